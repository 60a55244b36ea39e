//! Images: references and the image gate.

pub mod reference;

pub use reference::ImageRef;
