//! taosr1-model
