//! The tar reader: any byte stream gives headers or an error, never a panic; entry data reads
//! exactly the declared size; positions only grow.
#![no_main]

use apko_apk::tar::{TarError, TarReader};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fn run(data: &[u8]) -> Result<(), TarError> {
    let mut tar = TarReader::new(data);
    let mut last = 0;
    for _ in 0..64 {
        let Some(h) = tar.next_header()? else {
            tar.drain()?;
            return Ok(());
        };
        assert!(h.data_offset >= last, "data offsets go back");
        assert_eq!(h.data_offset, tar.position());
        assert_eq!(h.mode & !0o7777, 0);
        last = h.data_offset;
        let _ = h.pax("SCHILY.xattr.user.x");
        // Read every other entry's data, skip the rest.
        if h.data_offset % 1024 == 0 {
            let mut buf = Vec::new();
            let n = (&mut tar).take(1 << 20).read_to_end(&mut buf)?;
            assert_eq!(n as u64, h.size.min(1 << 20));
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
