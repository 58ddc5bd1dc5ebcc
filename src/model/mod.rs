//! The model: our own conv/pool/BatchNorm ops on dfdx, the CNN backbone, the loss heads.

pub mod head;
pub mod net;
pub mod ops;
pub mod optim;
pub mod params;
