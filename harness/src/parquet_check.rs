//! A check of a Parquet file's footer before polars reads it. polars-parquet
//! 0.55 sizes its buffers from the list lengths in the footer as written, so
//! a 1.4 KB file could make it ask for 27 GB and abort (found by the
//! `trace_file` fuzz target; an allocation failure cannot be caught). This
//! walks the footer (Thrift compact protocol) without allocating and refuses
//! any list, map or byte string longer than the bytes left for it.

/// Check a whole Parquet file held in memory; why it is refused, in words.
pub fn check(file: &[u8]) -> Result<(), String> {
    let n = file.len();
    if n < 12 {
        return Err("shorter than the Parquet magic bytes".into());
    }
    let len = footer_len(&file[..4], &file[n - 8..], n as u64)?;
    check_footer(&file[n - 8 - len..n - 8])
}

/// Check the Parquet file at `path`, reading only its head and its footer.
pub fn check_path(path: &std::path::Path) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read ({e})"))?;
    let n = f.metadata().map_err(|e| format!("cannot read ({e})"))?.len();
    if n < 12 {
        return Err("shorter than the Parquet magic bytes".into());
    }
    let (mut head, mut tail) = ([0u8; 4], [0u8; 8]);
    let io = |e: std::io::Error| format!("cannot read ({e})");
    f.read_exact(&mut head).map_err(io)?;
    f.seek(SeekFrom::End(-8)).map_err(io)?;
    f.read_exact(&mut tail).map_err(io)?;
    let len = footer_len(&head, &tail, n)?;
    let mut footer = vec![0u8; len];
    f.seek(SeekFrom::End(-8 - len as i64)).map_err(io)?;
    f.read_exact(&mut footer).map_err(io)?;
    check_footer(&footer)
}

/// The footer's length from the file's first 4 and last 8 bytes (its size `n`).
fn footer_len(head: &[u8], tail: &[u8], n: u64) -> Result<usize, String> {
    if head != b"PAR1" || &tail[4..] != b"PAR1" {
        return Err("no Parquet magic bytes at its start and end".into());
    }
    let len = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes"));
    if u64::from(len) > n - 12 {
        return Err(format!("its footer length ({len} bytes) is beyond the file"));
    }
    Ok(len as usize)
}

fn check_footer(footer: &[u8]) -> Result<(), String> {
    let mut r = Reader { buf: footer, at: 0 };
    r.skip(STRUCT, 0).map_err(|e| format!("its footer is malformed: {e}"))
}

const STRUCT: u8 = 12;
/// Nested structs deeper than this are refused (the format needs a handful).
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.at
    }
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.buf.get(self.at).ok_or("it ends early")?;
        self.at += 1;
        Ok(b)
    }
    fn advance(&mut self, k: usize) -> Result<(), String> {
        if k > self.left() {
            return Err(format!("a value of {k} bytes where {} are left", self.left()));
        }
        self.at += k;
        Ok(())
    }
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }
    /// A count of elements of at least one byte each: at most the bytes left.
    fn count(&mut self, size: u64, per: usize) -> Result<usize, String> {
        let size = usize::try_from(size).map_err(|_| "a count beyond memory")?;
        if size.saturating_mul(per) > self.left() {
            return Err(format!("a list of {size} elements where {} bytes are left", self.left()));
        }
        Ok(size)
    }
    /// Skip a value of compact type `ty`.
    fn skip(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        match ty {
            1 | 2 => Ok(()), // a bool field: its value is in the type
            3 => self.advance(1),
            4..=6 => self.varint().map(drop),
            7 => self.advance(8),
            8 => {
                let len = self.varint()?;
                self.advance(usize::try_from(len).map_err(|_| "a string beyond memory")?)
            }
            9 | 10 => {
                let head = self.byte()?;
                let elem = head & 0x0f;
                let size = match head >> 4 {
                    15 => self.varint()?,
                    s => u64::from(s),
                };
                for _ in 0..self.count(size, 1)? {
                    // Bools in a list take a byte each.
                    if matches!(elem, 1 | 2) {
                        self.advance(1)?
                    } else {
                        self.skip(elem, depth)?
                    }
                }
                Ok(())
            }
            11 => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                for _ in 0..self.count(size, 2)? {
                    self.skip(types >> 4, depth)?;
                    self.skip(types & 0x0f, depth)?;
                }
                Ok(())
            }
            STRUCT => {
                if depth >= MAX_DEPTH {
                    return Err(format!("structs nested deeper than {MAX_DEPTH}"));
                }
                loop {
                    let head = self.byte()?;
                    if head == 0 {
                        return Ok(());
                    }
                    if head >> 4 == 0 {
                        self.varint()?; // a field id written in full
                    }
                    self.skip(head & 0x0f, depth + 1)?;
                }
            }
            13 => self.advance(16), // UUID
            other => Err(format!("unknown value type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_passes_and_a_lying_list_length_does_not() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.parquet");
        let mut df = polars::prelude::df!("a" => [1u32, 2, 3], "b" => ["x", "y", "z"]).unwrap();
        crate::frames::write_parquet(&mut df, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        check(&bytes).unwrap();
        // The fuzz find: polars would ask for 27 GB.
        let found = include_bytes!("../../fuzz/found/trace_file/parquet-footer-asks-27-GB.parquet");
        let e = check(found).unwrap_err();
        assert!(e.starts_with("its footer is malformed"), "{e}");
        // A list that claims more elements than there are bytes left.
        let mut r = Reader { buf: &[0x19, 0xfc, 0xff, 0x01], at: 0 };
        let e = r.skip(STRUCT, 0).unwrap_err();
        assert!(e.contains("elements where"), "{e}");
        assert!(check(b"PAR1PAR1").is_err());
        assert!(check(&bytes[..bytes.len() - 1]).is_err());
    }
}
