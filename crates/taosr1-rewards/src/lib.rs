//! taosr1-rewards
