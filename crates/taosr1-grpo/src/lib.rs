//! taosr1-grpo
