//! taosr1-cot
