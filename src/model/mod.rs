//! The model: our own conv/pool/BatchNorm ops on dfdx, the CNN backbone, the loss heads.

pub mod ops;
