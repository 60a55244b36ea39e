//! hardrun's parsers for the fuzz targets, compiled from hardrun's own sources.
//!
//! hardrun is a binary crate. Rather than turn it into a library (which would move every
//! module under a new root, collide with all work in progress, and build every module
//! twice), this crate includes the source files of the modules the parsers live in, at
//! the same paths under its own root, so their `crate::` paths resolve unchanged. The
//! engine, the commands and `main` stay out: nothing here talks to a daemon.

#![allow(dead_code, unused_imports, clippy::all)]

#[path = "../../src/apparmor.rs"]
pub mod apparmor;
#[path = "../../src/bounded_file.rs"]
pub mod bounded_file;
#[path = "../../src/capability.rs"]
pub mod capability;
#[path = "../../src/cli.rs"]
pub mod cli;
#[path = "../../src/image/mod.rs"]
pub mod image;
#[path = "../../src/plan/mod.rs"]
pub mod plan;
#[path = "../../src/policy/mod.rs"]
pub mod policy;
#[path = "../../src/profile/mod.rs"]
pub mod profile;
#[path = "../../src/request/mod.rs"]
pub mod request;
#[path = "../../src/run_args/mod.rs"]
pub mod run_args;
#[path = "../../src/sanitize.rs"]
pub mod sanitize;
#[path = "../../src/seccomp.rs"]
pub mod seccomp;
#[path = "../../src/yaml_nesting.rs"]
pub mod yaml_nesting;
