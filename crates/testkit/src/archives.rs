//! Zip archives as tests upload them (skill folders): regular files in the order given.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

/// A zip holding `entries` (`(path, bytes)`) as regular files, stored with the default options.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(*name, SimpleFileOptions::default())
            .expect("a zip entry starts");
        writer.write_all(bytes).expect("a zip entry is written");
    }
    writer.finish().expect("the zip is finished").into_inner()
}
