//! taosr1-dpo
