//! adalab: a terminal lab for anomaly detection with deep metric learning.
