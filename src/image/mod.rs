//! Images: references and the image gate. Everything here is pure (values in, verdicts
//! out) except `cache`, the gate's small on-disk cache, and `signature`'s registry I/O.

pub mod cache;
pub mod facts;
pub mod gate;
pub mod look;
pub mod minimal;
pub mod reference;
pub mod scan;
pub mod secrets;
pub mod service_user;
pub mod signature;
pub mod tree;
pub mod user;

pub use facts::ImageFacts;
pub use reference::ImageRef;
