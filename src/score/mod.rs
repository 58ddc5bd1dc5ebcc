//! Anomaly scoring of embeddings (LOF, nearest-neighbour cosine, class cosine) and ROC/AUC.
