/// Size limits that bound what a hostile package or index can make us read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed control segment (`.PKGINFO` and scripts). Default 10 MiB.
    pub max_control_size: u64,
    /// Largest decompressed data segment. Default 16 GiB.
    pub max_data_size: u64,
    /// Largest decompressed `APKINDEX.tar.gz`. Default 300 MiB.
    pub max_index_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_size: 10 << 20,
            max_data_size: 16 << 30,
            max_index_size: 300 << 20,
        }
    }
}
