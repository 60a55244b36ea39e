//! Proof that the hardening is in force, before the user's command runs.
//!
//! Every container hardrun makes on a local daemon starts with hardrun-init (init/,
//! built into the binary): hardrun mounts it read-only, makes it the entrypoint with
//! the expectations as its first argument, and it checks its own kernel state (the
//! capability sets, no-new-privileges, seccomp, ids and groups, AppArmor label,
//! namespaces and every mount, bind sources by device and root) before it execs the
//! command. On a difference the command never runs. hardrun reads the init's verdict
//! on a FIFO; a later `docker start` is guarded just the same.
//!
//! Where a local file cannot be mounted (a remote daemon), the daemon's record of the
//! container is judged instead, and said to be the daemon's word, not the kernel's.

pub mod init;
pub mod inspect;
pub mod mounts;
pub mod spec;
pub mod verdict;

/// The init's own modules, compiled here too so hardrun's tests run their tests (the
/// init's entry point, the only user of some of their functions, is built apart).
#[cfg(test)]
#[path = "../../init"]
#[allow(dead_code)]
pub(crate) mod init_code {
    /// One list of names for both (see src/capability.rs).
    pub mod capabilities {
        pub use crate::capability::ALL;
    }
    pub mod check;
    pub mod lookup;
    pub mod spec;
    pub mod status;
    pub mod text;
}
