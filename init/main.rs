//! hardrun-init: the first program of a hardrun container. It checks what the kernel
//! enforces on its own process (/proc/self/status, the AppArmor label, its namespaces,
//! /proc/self/mountinfo) against the expectations hardrun passed in its first
//! argument, then finds and execs the user's command exactly as runc would have: same
//! PID, file descriptors, environment and argv. On a difference it does not exec: it
//! prints one line saying what differs and exits with [`REFUSED`].
//!
//! It is static and free-standing (raw system calls, no libc), so it runs in any image
//! and costs a fraction of a millisecond. hardrun builds it from this folder (see
//! build.rs); the checks themselves are in the modules, which hardrun's tests also run.
//!
//! Usage (hardrun composes it): `init EXPECTATIONS -- ENTRYPOINT... CMD...`

#![no_std]
#![no_main]
// Keeps the compiler from turning the memory functions below into calls to themselves.
#![no_builtins]

mod capabilities;
mod check;
mod lookup;
mod spec;
mod status;
mod text;

use core::arch::global_asm;

use check::Probe;
use text::Line;

/// The exit code of a container the init refused to run the command in.
const REFUSED: i32 = 78;
/// The folder hardrun mounts the init in; the report FIFO is there too.
const DIR: &[u8] = b"/.hardrun/";

#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl _start",
    "_start:",
    "xor rbp, rbp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "bl {entry}",
    "brk #0",
    entry = sym entry,
);

mod sys {
    #[cfg(target_arch = "x86_64")]
    pub mod nr {
        pub const READ: usize = 0;
        pub const WRITE: usize = 1;
        pub const CLOSE: usize = 3;
        pub const EXECVE: usize = 59;
        pub const GETUID: usize = 102;
        pub const GETGID: usize = 104;
        pub const GETEUID: usize = 107;
        pub const GETEGID: usize = 108;
        pub const EXIT_GROUP: usize = 231;
        pub const OPENAT: usize = 257;
        pub const NEWFSTATAT: usize = 262;
        pub const READLINKAT: usize = 267;
        pub const FACCESSAT: usize = 269;
        pub const FACCESSAT2: usize = 439;
        /// Where `st_mode` sits in `struct stat`.
        pub const STAT_MODE: usize = 24;
    }

    #[cfg(target_arch = "aarch64")]
    pub mod nr {
        pub const READ: usize = 63;
        pub const WRITE: usize = 64;
        pub const CLOSE: usize = 57;
        pub const EXECVE: usize = 221;
        pub const GETUID: usize = 174;
        pub const GETEUID: usize = 175;
        pub const GETGID: usize = 176;
        pub const GETEGID: usize = 177;
        pub const EXIT_GROUP: usize = 94;
        pub const OPENAT: usize = 56;
        pub const NEWFSTATAT: usize = 79;
        pub const READLINKAT: usize = 78;
        pub const FACCESSAT: usize = 48;
        pub const FACCESSAT2: usize = 439;
        pub const STAT_MODE: usize = 16;
    }

    pub const AT_FDCWD: usize = -100isize as usize;
    pub const O_WRONLY: usize = 1;
    pub const O_NONBLOCK: usize = 0o4000;
    pub const O_CLOEXEC: usize = 0o2000000;
    pub const O_PATH: usize = 0o10000000;
    pub const AT_EACCESS: usize = 0x200;
    pub const X_OK: usize = 1;
    pub const EINTR: i32 = 4;
    pub const EPERM: i32 = 1;
    pub const ENOSYS: i32 = 38;

    /// A system call with up to four arguments; negative results are `-errno`.
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn call(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
        let ret: isize;
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    #[cfg(target_arch = "aarch64")]
    pub unsafe fn call(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
        let ret: isize;
        unsafe {
            core::arch::asm!(
                "svc 0",
                in("x8") n,
                inlateout("x0") a as isize => ret,
                in("x1") b, in("x2") c, in("x3") d,
                options(nostack),
            );
        }
        ret
    }

    pub fn result(r: isize) -> Result<usize, i32> {
        if r < 0 { Err(-r as i32) } else { Ok(r as usize) }
    }
}

/// A path with its terminating NUL, for the kernel.
struct CPath([u8; 4096]);

impl CPath {
    fn new(parts: &[&[u8]]) -> Option<CPath> {
        let mut p = CPath([0; 4096]);
        let mut n = 0;
        for part in parts {
            if part.contains(&0) {
                return None;
            }
            p.0.get_mut(n..n + part.len())?.copy_from_slice(part);
            n += part.len();
        }
        *p.0.get_mut(n)? = 0;
        Some(p)
    }

    fn ptr(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

fn open(path: &CPath, flags: usize) -> Result<usize, i32> {
    sys::result(unsafe { sys::call(sys::nr::OPENAT, sys::AT_FDCWD, path.ptr(), flags | sys::O_CLOEXEC, 0) })
}

fn close(fd: usize) {
    unsafe { sys::call(sys::nr::CLOSE, fd, 0, 0, 0) };
}

fn write_all(fd: usize, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match sys::result(unsafe { sys::call(sys::nr::WRITE, fd, bytes.as_ptr() as usize, bytes.len(), 0) }) {
            Ok(n) => bytes = &bytes[n..],
            Err(sys::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn exit(code: i32) -> ! {
    loop {
        unsafe { sys::call(sys::nr::EXIT_GROUP, code as usize, 0, 0, 0) };
    }
}

/// Reads a whole (small, /proc) file into `buf`; `None` when it cannot be read or
/// does not fit.
fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let fd = open(&CPath::new(&[path])?, 0).ok()?;
    let mut n = 0;
    let whole = loop {
        if n == buf.len() {
            break false;
        }
        let slot = &mut buf[n..];
        match sys::result(unsafe { sys::call(sys::nr::READ, fd, slot.as_mut_ptr() as usize, slot.len(), 0) }) {
            Ok(0) => break true,
            Ok(m) => n += m,
            Err(sys::EINTR) => {}
            Err(_) => break false,
        }
    };
    close(fd);
    whole.then_some(&buf[..n])
}

fn readlink<'b>(path: &CPath, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let r = unsafe { sys::call(sys::nr::READLINKAT, sys::AT_FDCWD, path.ptr(), buf.as_mut_ptr() as usize, buf.len()) };
    sys::result(r).ok().filter(|n| *n < buf.len()).map(|n| &buf[..n])
}

fn stat_mode(path: &CPath) -> Result<u32, i32> {
    let mut st = [0u64; 32];
    let r = unsafe { sys::call(sys::nr::NEWFSTATAT, sys::AT_FDCWD, path.ptr(), st.as_mut_ptr() as usize, 0) };
    sys::result(r)?;
    let bytes = unsafe { core::slice::from_raw_parts(st.as_ptr() as *const u8, 256) };
    let m = &bytes[sys::nr::STAT_MODE..sys::nr::STAT_MODE + 4];
    Ok(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]))
}

/// The container's file system, as the process sees it.
struct Kernel;

impl Probe for Kernel {
    fn exists(&self, path: &[u8]) -> bool {
        CPath::new(&[path]).is_some_and(|p| stat_mode(&p).is_ok())
    }

    fn resolve(&self, path: &[u8], out: &mut [u8]) -> Option<usize> {
        let mut plain = [0u8; 4096];
        let n = text::unescape(path, &mut plain)?;
        let fd = open(&CPath::new(&[&plain[..n]])?, sys::O_PATH).ok()?;
        let mut digits = Line::new();
        digits.push_dec(fd as u64);
        let mut target = [0u8; 4096];
        let link =
            CPath::new(&[b"/proc/self/fd/", digits.bytes()]).and_then(|p| readlink(&p, &mut target).map(|t| t.len()));
        close(fd);
        text::escape(&target[..link?], out)
    }
}

impl lookup::Files for Kernel {
    fn stat_mode(&self, path: &[u8]) -> Result<u32, i32> {
        stat_mode(&CPath::new(&[path]).ok_or(2)?)
    }

    /// runc's `system.Eaccess`.
    fn eaccess(&self, path: &[u8]) -> Result<(), i32> {
        let p = CPath::new(&[path]).ok_or(2)?;
        let r = unsafe { sys::call(sys::nr::FACCESSAT2, sys::AT_FDCWD, p.ptr(), sys::X_OK, sys::AT_EACCESS) };
        match sys::result(r) {
            Err(e) if e == sys::ENOSYS || e == sys::EPERM => {}
            other => return other.map(|_| ()),
        }
        let id = |n| unsafe { sys::call(n, 0, 0, 0, 0) };
        if id(sys::nr::GETUID) == id(sys::nr::GETEUID) && id(sys::nr::GETGID) == id(sys::nr::GETEGID) {
            sys::result(unsafe { sys::call(sys::nr::FACCESSAT, sys::AT_FDCWD, p.ptr(), sys::X_OK, 0) }).map(|_| ())
        } else {
            Ok(())
        }
    }
}

/// A NUL-terminated string the kernel handed over.
unsafe fn c_str<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    unsafe { core::slice::from_raw_parts(p, n) }
}

/// Buffers too large for the stack, whose size the container's limits decide.
struct Scratch {
    status: [u8; 16 * 1024],
    mountinfo: [u8; 1 << 20],
    attr: [u8; 4096],
    link: [u8; 256],
    resolved: [u8; 64 * 1024],
    name: [u8; 4096],
    diffs: Line,
    report: Line,
}

static mut SCRATCH: Scratch = Scratch {
    status: [0; 16 * 1024],
    mountinfo: [0; 1 << 20],
    attr: [0; 4096],
    link: [0; 256],
    resolved: [0; 64 * 1024],
    name: [0; 4096],
    diffs: Line::new(),
    report: Line::new(),
};

/// Says why the command was not run, on stderr and to hardrun when it listens.
fn refuse(report: Option<usize>, what: &[u8]) -> ! {
    if let Some(fd) = report {
        let mut l = Line::new();
        l.push(b"refused ");
        l.push(what);
        l.push(b"\n");
        write_all(fd, l.bytes());
    }
    let mut l = Line::new();
    l.push(b"hardrun-init: the container is not as planned, so the command was not run: ");
    l.push(what);
    l.push(b"\n");
    write_all(2, l.bytes());
    exit(REFUSED)
}

unsafe extern "C" fn entry(sp: *const usize) -> ! {
    let argc = unsafe { *sp };
    let argv = unsafe { sp.add(1) as *const *const u8 };
    let envp = unsafe { argv.add(argc + 1) };
    let arg = |i: usize| unsafe { c_str(*argv.add(i)) };
    let s = unsafe { &mut *core::ptr::addr_of_mut!(SCRATCH) };
    if argc < 4 || arg(2) != b"--" {
        refuse(None, b"it was started without hardrun's expectations and a command");
    }
    let spec = match spec::Spec::parse(arg(1)) {
        Ok(spec) => spec,
        Err(line) => {
            s.diffs.push(b"hardrun's expectations are not understood at: ");
            s.diffs.push_shown(line);
            refuse(None, s.diffs.bytes())
        }
    };
    // hardrun listens on the FIFO only during the start it made itself.
    let report = spec
        .report
        .filter(|name| !name.contains(&b'/'))
        .and_then(|name| CPath::new(&[DIR, name]))
        .and_then(|p| open(&p, sys::O_WRONLY | sys::O_NONBLOCK).ok());
    let strict = report.is_some();

    let status = status::ProcessStatus::parse(read_file(b"/proc/self/status", &mut s.status).unwrap_or(b""));
    check::process(&spec, &status, &mut s.diffs);
    let label = match read_file(b"/proc/self/attr/apparmor/current", &mut s.attr) {
        Some(l) => Some(l),
        None => read_file(b"/proc/self/attr/current", &mut s.attr),
    };
    let label = label.map(check::apparmor_label).unwrap_or(b"");
    if let Some(want) = spec.apparmor {
        check::apparmor(want, Some(label), &mut s.diffs);
    }
    for kind in check::NAMESPACES {
        let link = CPath::new(&[b"/proc/self/ns/", kind]).and_then(|p| readlink(&p, &mut s.link));
        check::namespace(&spec, kind, link, &mut s.diffs);
    }
    let (root_read_only, counts) = match read_file(b"/proc/self/mountinfo", &mut s.mountinfo) {
        Some(m) => check::mounts(&spec, m, strict, &Kernel, &mut s.resolved, &mut s.diffs),
        None => {
            s.diffs.item();
            s.diffs.push(b"/proc/self/mountinfo could not be read");
            (false, check::MountCounts::default())
        }
    };
    if !s.diffs.is_empty() {
        s.diffs.finish_list();
        refuse(report, s.diffs.bytes());
    }

    // The command, found as runc finds it.
    let path_env = (0..)
        .map(|i| unsafe { *envp.add(i) })
        .take_while(|p| !p.is_null())
        .map(|p| unsafe { c_str(p) })
        .find_map(|e| e.strip_prefix(b"PATH="));
    let file = arg(3);
    let (name_room, _) = s.name.split_at_mut(4095);
    let Some(len) = lookup::look_path(file, path_env, &Kernel, name_room, &mut s.report) else {
        let code = lookup::start_failure_code(s.report.bytes());
        if let Some(fd) = report {
            let mut l = Line::new();
            l.push(b"start-failed ");
            l.push(s.report.bytes());
            l.push(b"\n");
            write_all(fd, l.bytes());
        }
        s.report.push(b"\n");
        write_all(2, s.report.bytes());
        exit(code)
    };
    s.name[len] = 0;
    if let Some(fd) = report {
        s.report.clear();
        s.report.push(b"ok ");
        check::summary(&status, label, root_read_only, counts, &mut s.report);
        s.report.push(b"\n");
        write_all(fd, s.report.bytes());
        close(fd);
    }
    let user_argv = unsafe { argv.add(3) };
    loop {
        let r = unsafe { sys::call(sys::nr::EXECVE, s.name.as_ptr() as usize, user_argv as usize, envp as usize, 0) };
        match sys::result(r) {
            Err(sys::EINTR) => continue,
            Err(errno) => {
                // As runc reports a failed exec: on stderr, exit status 1.
                s.report.clear();
                s.report.push(b"exec ");
                s.report.push(&s.name[..len]);
                s.report.push(b": ");
                text::push_errno(&mut s.report, errno);
                s.report.push(b"\n");
                write_all(2, s.report.bytes());
                exit(1)
            }
            Ok(_) => exit(1),
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    write_all(2, b"hardrun-init: internal error\n");
    exit(REFUSED)
}

/// Referenced by the precompiled core library; never called with panic=abort.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// The memory functions the compiler expects from a C library (x86's string
// instructions are fast for the few kilobytes the init clears and copies).

#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _, options(nostack, preserves_flags));
    }
    #[cfg(not(target_arch = "x86_64"))]
    for i in 0..n {
        unsafe { *dst.add(i) = *src.add(i) };
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) < (src as usize) {
        for i in 0..n {
            unsafe { *dst.add(i) = *src.add(i) };
        }
    } else {
        for i in (0..n).rev() {
            unsafe { *dst.add(i) = *src.add(i) };
        }
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8, options(nostack, preserves_flags));
    }
    #[cfg(not(target_arch = "x86_64"))]
    for i in 0..n {
        unsafe { *dst.add(i) = c as u8 };
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    unsafe { memcmp(a, b, n) }
}
