//! taosr1 facade
