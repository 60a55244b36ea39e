//! Cosign signatures: which keys an image needs (`policy`, `containers`), the verdict on
//! what the registry holds (`judge`, pure), and the I/O around them: the registry
//! (`registry`), the signature objects (`fetch`) and the verdict cache (`cache`).
//!
//! What is verified is a manifest digest; the container is then created from
//! `repo@digest`, so a tag moved after the check cannot change what runs.

pub mod cache;
pub mod containers;
pub mod fetch;
pub mod judge;
pub mod key;
pub mod policy;
pub mod registry;

pub use policy::SignaturePolicy;
