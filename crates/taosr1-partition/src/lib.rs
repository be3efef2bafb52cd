//! taosr1-partition
