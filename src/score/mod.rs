//! Anomaly scoring of embeddings (LOF, nearest-neighbour cosine, class cosine) and ROC/AUC.

pub mod stats;

pub use stats::Summary;
