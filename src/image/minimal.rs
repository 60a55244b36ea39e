//! Whether an image carries a shell or a package manager: the tools an intruder
//! reaches for first. Found by looking at files in the image (which paths exist as
//! executables), never guessed from the image's name.

use std::collections::BTreeSet;

/// Programs that give a shell (`busybox sh` works wherever busybox is).
pub const SHELLS: [&str; 8] = ["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"];

/// Program → the package manager it belongs to.
pub const PACKAGE_MANAGERS: [(&str, &str); 9] = [
    ("apt", "apt"),
    ("apt-get", "apt"),
    ("apk", "apk"),
    ("dnf", "dnf"),
    ("microdnf", "dnf"),
    ("yum", "yum"),
    ("pip", "pip"),
    ("pip3", "pip"),
    ("pipx", "pip"),
];

/// Where programs live on any Linux image, whatever its PATH says.
const STANDARD_DIRS: [&str; 6] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The folders to look in: the standard ones and those of the image's own `PATH`
/// (absolute, without `..`), each once.
pub fn folders(env: &[String]) -> Vec<String> {
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or_default();
    let mut dirs: Vec<String> = STANDARD_DIRS.iter().map(|d| d.to_string()).collect();
    for d in path.split(':').map(|d| d.trim_end_matches('/')) {
        let clean = d.starts_with('/') && !d.split('/').any(|part| part == "..");
        if clean && !dirs.iter().any(|x| x == d) {
            dirs.push(d.to_string());
        }
    }
    dirs
}

/// The program names looked for in each folder: shells, then package managers.
pub fn programs() -> Vec<&'static str> {
    SHELLS.iter().copied().chain(PACKAGE_MANAGERS.iter().map(|(n, _)| *n)).collect()
}

/// What the executables found amount to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tools {
    /// Shell program names (`sh`, `bash`, `busybox`), each once.
    pub shells: Vec<String>,
    /// Package managers (`apt`, `pip`), each once.
    pub package_managers: Vec<String>,
}

impl Tools {
    pub fn from_executables(executables: &[String]) -> Tools {
        let mut shells = BTreeSet::new();
        let mut managers = BTreeSet::new();
        for path in executables {
            let name = path.rsplit('/').next().unwrap_or(path);
            if SHELLS.contains(&name) {
                shells.insert(name.to_string());
            }
            if let Some((_, manager)) = PACKAGE_MANAGERS.iter().find(|(n, _)| *n == name) {
                managers.insert(manager.to_string());
            }
        }
        Tools { shells: shells.into_iter().collect(), package_managers: managers.into_iter().collect() }
    }

    pub fn is_minimal(&self) -> bool {
        self.shells.is_empty() && self.package_managers.is_empty()
    }

    /// `a shell (bash, sh) and a package manager (apt)`: what a non-minimal image carries.
    pub fn carried(&self) -> String {
        let mut parts = Vec::new();
        if !self.shells.is_empty() {
            parts.push(format!("a shell ({})", self.shells.join(", ")));
        }
        if !self.package_managers.is_empty() {
            parts.push(format!("a package manager ({})", self.package_managers.join(", ")));
        }
        parts.join(" and ")
    }

    /// `shell: bash, sh; package managers: apt` or `no shell; no package manager`.
    pub fn describe(&self) -> String {
        let shells = match self.shells.as_slice() {
            [] => "no shell".to_string(),
            s => format!("shell: {}", s.join(", ")),
        };
        let managers = match self.package_managers.as_slice() {
            [] => "no package manager".to_string(),
            m => format!("package managers: {}", m.join(", ")),
        };
        format!("{shells}; {managers}")
    }
}

/// `1.98 MB` (decimal units, as `docker images` prints).
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.3} {}", units[u]).replace(".000 ", " ") }
}

/// `1.98 MB in 3 layers`.
pub fn size_and_layers(size: u64, layers: usize) -> String {
    let plural = if layers == 1 { "" } else { "s" };
    format!("{} in {layers} layer{plural}", human_size(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_the_standard_ones_and_path() {
        let f = folders(&["PATH=/opt/venv/bin:/usr/bin/:relative:/x/../y:/opt/venv/bin".to_string()]);
        assert_eq!(f, ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/opt/venv/bin"]);
        assert_eq!(folders(&[]).len(), 6);
        assert!(programs().contains(&"apt-get") && programs().contains(&"sh"));
    }

    #[test]
    fn tools_found() {
        let t = Tools::from_executables(&[
            "/bin/sh".into(),
            "/usr/bin/sh".into(),
            "/usr/bin/apt-get".into(),
            "/usr/bin/apt".into(),
            "/usr/local/bin/pip3".into(),
        ]);
        assert_eq!(t.shells, ["sh"]);
        assert_eq!(t.package_managers, ["apt", "pip"]);
        assert_eq!(t.describe(), "shell: sh; package managers: apt, pip");
        assert_eq!(t.carried(), "a shell (sh) and a package manager (apt, pip)");
        assert!(!t.is_minimal());
        let none = Tools::from_executables(&[]);
        assert!(none.is_minimal());
        assert_eq!(none.describe(), "no shell; no package manager");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_982_256), "1.982 MB");
        assert_eq!(human_size(2_000_000_000), "2 GB");
        assert_eq!(size_and_layers(1_982_256, 1), "1.982 MB in 1 layer");
        assert_eq!(size_and_layers(0, 3), "0 B in 3 layers");
    }
}
