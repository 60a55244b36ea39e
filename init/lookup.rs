//! Finding the program to run exactly as runc does before it execs (runc 1.1's
//! `exec.LookPath` built with Go 1.19, then its `Eaccess` check), with runc's messages,
//! so a missing or unrunnable command fails the same way with or without the init.

use super::text::{self, Line};

/// What the file system answers; the init asks the kernel, tests a table.
pub trait Files {
    /// The mode of `path` after following symlinks (stat), or the errno.
    fn stat_mode(&self, path: &[u8]) -> Result<u32, i32>;
    /// Whether the process may execute `path` (faccessat2 X_OK with AT_EACCESS, with
    /// runc's fallback), or the errno.
    fn eaccess(&self, path: &[u8]) -> Result<(), i32>;
}

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;

/// Go's `findExecutable`: any execute bit on something that is not a directory.
fn find_executable(files: &dyn Files, path: &[u8]) -> Result<(), Option<i32>> {
    let mode = files.stat_mode(path).map_err(Some)?;
    if mode & S_IFMT != S_IFDIR && mode & 0o111 != 0 { Ok(()) } else { Err(None) }
}

/// The path to execute for `file` (into `name`, returning its length), or runc's
/// message for why it cannot be (into `msg`).
pub fn look_path(
    file: &[u8],
    path_env: Option<&[u8]>,
    files: &dyn Files,
    name: &mut [u8],
    msg: &mut Line,
) -> Option<usize> {
    let start = |msg: &mut Line| {
        msg.push(b"exec: ");
        text::push_go_quoted(msg, file);
        msg.push(b": ");
    };
    let len = if file.contains(&b'/') {
        match find_executable(files, file) {
            Ok(()) if file.len() <= name.len() => {
                name[..file.len()].copy_from_slice(file);
                file.len()
            }
            Ok(()) => {
                start(msg);
                text::push_errno(msg, 36);
                return None;
            }
            Err(Some(errno)) => {
                start(msg);
                msg.push(b"stat ");
                msg.push(file);
                msg.push(b": ");
                text::push_errno(msg, errno);
                return None;
            }
            Err(None) => {
                start(msg);
                msg.push(b"permission denied");
                return None;
            }
        }
    } else {
        // filepath.SplitList: an empty PATH is no directory at all.
        let dirs = path_env.filter(|p| !p.is_empty()).unwrap_or(b"");
        let mut found = None;
        let mut joined = [0u8; 4096];
        for dir in dirs.split(|&b| b == b':').filter(|_| !dirs.is_empty()) {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let whole = dir.len() + 1 + file.len();
            if whole > joined.len() {
                continue;
            }
            joined[..dir.len()].copy_from_slice(dir);
            joined[dir.len()] = b'/';
            joined[dir.len() + 1..whole].copy_from_slice(file);
            let Some(n) = text::clean(&joined[..whole], name) else { continue };
            if find_executable(files, &name[..n]).is_ok() {
                found = Some(n);
                break;
            }
        }
        match found {
            Some(n) if name[0] == b'/' => n,
            Some(_) => {
                start(msg);
                msg.push(b"cannot run executable found relative to current directory");
                return None;
            }
            None => {
                start(msg);
                msg.push(b"executable file not found in $PATH");
                return None;
            }
        }
    };
    if let Err(errno) = files.eaccess(&name[..len]) {
        msg.push(b"exec ");
        msg.push(&name[..len]);
        msg.push(b": ");
        text::push_errno(msg, errno);
        return None;
    }
    Some(len)
}

/// The exit code `docker run` gives a failed start with this message (the docker CLI
/// decides by the text).
pub fn start_failure_code(msg: &[u8]) -> i32 {
    let has = |needle: &[u8]| msg.windows(needle.len()).any(|w| w == needle);
    if has(b"executable file not found") || has(b"no such file or directory") {
        127
    } else if has(b"permission denied") || has(b"is a directory") {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small container file system: path → (mode, executable by this process).
    struct Table(&'static [(&'static str, u32, bool)]);

    impl Files for Table {
        fn stat_mode(&self, path: &[u8]) -> Result<u32, i32> {
            self.0.iter().find(|(p, ..)| p.as_bytes() == path).map(|(_, m, _)| *m).ok_or(2)
        }
        fn eaccess(&self, path: &[u8]) -> Result<(), i32> {
            match self.0.iter().find(|(p, ..)| p.as_bytes() == path) {
                Some((.., true)) => Ok(()),
                Some(_) => Err(13),
                None => Err(2),
            }
        }
    }

    const FS: Table = Table(&[
        ("/bin/sh", 0o100755, true),
        ("/bin/garb", 0o100755, true),
        ("/bin/dir.d", 0o040755, true),
        ("/bin/rdonly", 0o100644, true),
        ("/tmp/noexec", 0o100755, false),
        ("/usr/bin/tool", 0o100755, true),
        ("local", 0o100755, true),
        ("./garb", 0o100755, true),
    ]);

    fn look(file: &str, path: Option<&str>) -> Result<String, (String, i32)> {
        let mut name = [0u8; 4096];
        let mut msg = Line::new();
        match look_path(file.as_bytes(), path.map(str::as_bytes), &FS, &mut name, &mut msg) {
            Some(n) => Ok(String::from_utf8(name[..n].to_vec()).unwrap()),
            None => Err((String::from_utf8(msg.bytes().to_vec()).unwrap(), start_failure_code(msg.bytes()))),
        }
    }

    fn err(msg: &str, code: i32) -> Result<String, (String, i32)> {
        Err((msg.to_string(), code))
    }

    #[test]
    fn the_messages_and_codes_of_runc_and_docker() {
        // Each as runc 1.1.5 under docker 20.10 reported it on the development machine.
        let path = Some("/usr/local/bin:/bin:/usr/bin");
        assert_eq!(look("sh", path), Ok("/bin/sh".into()));
        assert_eq!(look("tool", path), Ok("/usr/bin/tool".into()));
        assert_eq!(look("nope", path), err(r#"exec: "nope": executable file not found in $PATH"#, 127));
        assert_eq!(look("", path), err(r#"exec: "": executable file not found in $PATH"#, 127));
        assert_eq!(look("rdonly", path), err(r#"exec: "rdonly": executable file not found in $PATH"#, 127));
        assert_eq!(look("dir.d", path), err(r#"exec: "dir.d": executable file not found in $PATH"#, 127));
        assert_eq!(look("/bin/dir.d", path), err(r#"exec: "/bin/dir.d": permission denied"#, 126));
        assert_eq!(look("/bin/rdonly", path), err(r#"exec: "/bin/rdonly": permission denied"#, 126));
        assert_eq!(look("/nope", path), err(r#"exec: "/nope": stat /nope: no such file or directory"#, 127));
        assert_eq!(look("./nope", path), err(r#"exec: "./nope": stat ./nope: no such file or directory"#, 127));
        assert_eq!(look("/tmp/noexec", path), err("exec /tmp/noexec: permission denied", 126));
        // A path with a slash is used as written; one found on PATH is cleaned.
        assert_eq!(look("./garb", path), Ok("./garb".into()));
        assert_eq!(look("sh", Some("/bin/../bin/")), Ok("/bin/sh".into()));
    }

    #[test]
    fn relative_path_entries_are_refused_as_go_does() {
        assert_eq!(
            look("local", Some(":/bin")),
            err(r#"exec: "local": cannot run executable found relative to current directory"#, 125)
        );
        assert_eq!(look("sh", Some("")), err(r#"exec: "sh": executable file not found in $PATH"#, 127));
        assert_eq!(look("sh", None), err(r#"exec: "sh": executable file not found in $PATH"#, 127));
    }
}
