//! A check of a Parquet file before polars reads it. polars-parquet 0.55
//! sizes its buffers from counts in the file as written: a list length in the
//! footer made a 1.4 KB file ask for 27 GB, a negative value count in a page
//! header made a 2.4 KB file ask for 2 EiB (both found by the `trace_file`
//! fuzz target), and an allocation failure aborts the process. This walks the
//! footer and every page header (Thrift compact protocol) and refuses a file
//! whose lengths and counts do not fit in it, or whose decoded size would be
//! out of proportion with its size ([`decoded_budget`]).

/// Check a whole Parquet file held in memory; why it is refused, in words.
pub fn check(file: &[u8]) -> Result<(), String> {
    let n = file.len();
    if n < 12 {
        return Err("shorter than the Parquet magic bytes".into());
    }
    let len = footer_len(&file[..4], &file[n - 8..], n as u64)?;
    let footer = &file[n - 8 - len..n - 8];
    let malformed = |e| format!("its footer is malformed: {e}");
    Reader { buf: footer, at: 0 }.check_struct(Kind::FileMeta, 0).map_err(malformed)?;
    let meta = file_meta(footer).map_err(malformed)?;
    check_sizes(&meta, file, n - 8 - len)
}

/// Check the Parquet file at `path` (mapped, as polars reads it).
pub fn check_path(path: &std::path::Path) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read ({e})"))?;
    if f.metadata().map_err(|e| format!("cannot read ({e})"))?.len() < 12 {
        return Err("shorter than the Parquet magic bytes".into());
    }
    // SAFETY: the map is read while no one is expected to write the file; a
    // writer changing it under us makes this check (and polars' read) see
    // other bytes, not memory outside the map. polars maps it the same way.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| format!("cannot read ({e})"))?;
    check(&map)
}

/// At most this many bytes may the decoded file take per byte of file, over a
/// floor of [`DECODED_FLOOR`]: a canonical trace decodes to about 5× its size,
/// so only a file built to expand (a decompression bomb, or a count that
/// lies) is refused.
pub const DECODED_PER_BYTE: u64 = 1024;
pub const DECODED_FLOOR: u64 = 64 << 20;
/// Bytes a decoded value is counted as: polars' string views take 16.
const BYTES_PER_VALUE: u64 = 16;

/// The decoded bytes a file of `n` bytes may declare.
pub fn decoded_budget(n: usize) -> u64 {
    (n as u64).saturating_mul(DECODED_PER_BYTE).max(DECODED_FLOOR)
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

/// What the footer says about the sizes of the data: the file's row count and
/// each row group's, with its column chunks.
#[derive(Debug, Default)]
struct FileMeta {
    num_rows: i64,
    row_groups: Vec<RowGroup>,
}

#[derive(Debug, Default)]
struct RowGroup {
    num_rows: i64,
    chunks: Vec<Chunk>,
}

#[derive(Debug, Default)]
struct Chunk {
    num_values: i64,
    total_uncompressed: i64,
    total_compressed: i64,
    data_page_offset: i64,
    dictionary_page_offset: Option<i64>,
}

fn file_meta(footer: &[u8]) -> Result<FileMeta, String> {
    let mut r = Reader { buf: footer, at: 0 };
    let mut meta = FileMeta::default();
    r.fields(0, |r, id, ty| match id {
        3 => r.int(ty).map(|v| meta.num_rows = v),
        4 => r.list(ty, 1, |r, _| {
            let mut rg = RowGroup::default();
            r.fields(1, |r, id, ty| match id {
                1 => r.list(ty, 1, |r, _| {
                    let mut chunk = Chunk::default();
                    let mut has_meta = false;
                    r.fields(2, |r, id, ty| match id {
                        3 => {
                            has_meta = true;
                            r.fields(3, |r, id, ty| match id {
                                5 => r.int(ty).map(|v| chunk.num_values = v),
                                6 => r.int(ty).map(|v| chunk.total_uncompressed = v),
                                7 => r.int(ty).map(|v| chunk.total_compressed = v),
                                9 => r.int(ty).map(|v| chunk.data_page_offset = v),
                                11 => r.int(ty).map(|v| chunk.dictionary_page_offset = Some(v)),
                                _ => r.skip(ty, 4),
                            })
                        }
                        _ => r.skip(ty, 3),
                    })?;
                    if !has_meta {
                        return Err("a column chunk without its metadata".into());
                    }
                    rg.chunks.push(chunk);
                    Ok(())
                }),
                3 => r.int(ty).map(|v| rg.num_rows = v),
                _ => r.skip(ty, 2),
            })?;
            meta.row_groups.push(rg);
            Ok(())
        }),
        _ => r.skip(ty, 1),
    })?;
    Ok(meta)
}

/// Every count and length in the footer and the page headers: not negative,
/// inside the file, and the column chunks' decoded sizes together within
/// [`decoded_budget`] (the row counts, which say the same, each within it).
fn check_sizes(meta: &FileMeta, file: &[u8], data_end: usize) -> Result<(), String> {
    let budget = decoded_budget(file.len());
    let over = |what: &str, count: u64| {
        format!(
            "its {what} ({count}) would decode to more than {} MiB, {DECODED_PER_BYTE}× the file's size",
            budget >> 20
        )
    };
    let rows = |what: &str, count: i64| -> Result<(), String> {
        let count = u64::try_from(count).map_err(|_| format!("a negative {what} ({count})"))?;
        if count.saturating_mul(BYTES_PER_VALUE) > budget {
            return Err(over(what, count));
        }
        Ok(())
    };
    rows("row count", meta.num_rows)?;
    let mut decoded = 0u64;
    for (g, rg) in meta.row_groups.iter().enumerate() {
        rows("row group's row count", rg.num_rows)?;
        for (c, chunk) in rg.chunks.iter().enumerate() {
            let at = format!("row group {g}, column {c}");
            for (what, count, per) in [
                ("column chunk's value count", chunk.num_values, BYTES_PER_VALUE),
                ("column chunk's uncompressed size", chunk.total_uncompressed, 1),
            ] {
                let count = u64::try_from(count).map_err(|_| format!("{at}: a negative {what} ({count})"))?;
                decoded = decoded.saturating_add(count.saturating_mul(per));
                if decoded > budget {
                    return Err(format!("{at}: {}", over(what, count)));
                }
            }
            let start = chunk.dictionary_page_offset.unwrap_or(chunk.data_page_offset);
            let range = usize::try_from(start).ok().zip(usize::try_from(chunk.total_compressed).ok());
            let (start, len) = match range {
                Some((s, l)) if s >= 4 && s.checked_add(l).is_some_and(|e| e <= data_end) => (s, l),
                _ => {
                    return Err(format!(
                        "{at}: its pages ({start}, {} bytes) are not in the file",
                        chunk.total_compressed
                    ))
                }
            };
            check_pages(&file[start..start + len], chunk.num_values, budget).map_err(|e| format!("{at}: {e}"))?;
        }
    }
    Ok(())
}

/// Walk a column chunk's pages as polars does (until it has seen the chunk's
/// values), checking each page header's sizes and counts.
fn check_pages(pages: &[u8], chunk_values: i64, budget: u64) -> Result<(), String> {
    let mut r = Reader { buf: pages, at: 0 };
    let mut seen = 0i64;
    while seen < chunk_values {
        let (mut kind, mut uncompressed, mut compressed) = (-1, -1, -1);
        // (value count, other counts that must be within it, level byte lengths)
        let mut values: Option<i64> = None;
        let mut within = [0i64; 2];
        let mut level_bytes = [0i64; 2];
        let malformed = |e| format!("a page header is malformed: {e}");
        Reader { buf: r.buf, at: r.at }.check_struct(Kind::Page, 0).map_err(malformed)?;
        r.fields(0, |r, id, ty| match id {
            1 => r.int(ty).map(|v| kind = v),
            2 => r.int(ty).map(|v| uncompressed = v),
            3 => r.int(ty).map(|v| compressed = v),
            5 | 7 => r.fields(1, |r, id, ty| match id {
                1 => r.int(ty).map(|v| values = Some(v)),
                _ => r.skip(ty, 2),
            }),
            8 => r.fields(1, |r, id, ty| match id {
                1 => r.int(ty).map(|v| values = Some(v)),
                2 => r.int(ty).map(|v| within[0] = v),
                3 => r.int(ty).map(|v| within[1] = v),
                5 => r.int(ty).map(|v| level_bytes[0] = v),
                6 => r.int(ty).map(|v| level_bytes[1] = v),
                _ => r.skip(ty, 2),
            }),
            _ => r.skip(ty, 1),
        })
        .map_err(malformed)?;
        let values = values.ok_or("a page header without its data or dictionary header")?;
        if !(0..=chunk_values).contains(&values) || within.iter().any(|&w| !(0..=values).contains(&w)) {
            return Err(format!("a page claims {values} values of the chunk's {chunk_values}"));
        }
        if uncompressed < 0 || uncompressed as u64 > budget {
            return Err(format!("a page's uncompressed size ({uncompressed}) is out of bounds"));
        }
        let left = r.left() as i64;
        if !(0..=left).contains(&compressed)
            || level_bytes.iter().any(|&l| l < 0)
            || level_bytes[0].saturating_add(level_bytes[1]) > compressed
        {
            return Err(format!("a page's size ({compressed} bytes) is not in its column chunk ({left} bytes left)"));
        }
        if kind != 2 {
            seen = seen.saturating_add(values); // a dictionary page (type 2) holds no rows
        }
        r.at += compressed as usize;
    }
    Ok(())
}

/// The Thrift structs of a Parquet footer and page header that polars reads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    FileMeta,
    Schema,
    Logical,
    Decimal,
    Time,
    TimeUnit,
    IntType,
    /// A struct polars reads no field of (an empty union variant).
    Empty,
    RowGroup,
    Sorting,
    Chunk,
    ColumnMeta,
    Stats,
    KeyValue,
    ColumnOrder,
    Page,
    DataPage,
    DictPage,
    DataPageV2,
}

/// The type polars reads a known field as.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Byte,
    Int,
    Bool,
    Bin,
    Struct(Kind),
    List(Elem),
}

#[derive(Debug, Clone, Copy)]
enum Elem {
    Int,
    Bin,
    Struct(Kind),
}

/// The type of field `id` of `kind` as polars 0.55 reads it
/// (`handwritten_thrift/file_metadata_thrift.rs`, parquet-format's
/// `PageHeader`); `None` for a field it skips.
fn field_type(kind: Kind, id: i16) -> Option<Ty> {
    use Kind::*;
    use Ty::{Bin, Bool, Byte, Int, List};
    let s = Ty::Struct;
    Some(match (kind, id) {
        (FileMeta, 1 | 3) => Int,
        (FileMeta, 2) => List(Elem::Struct(Schema)),
        (FileMeta, 4) => List(Elem::Struct(RowGroup)),
        (FileMeta, 5) => List(Elem::Struct(KeyValue)),
        (FileMeta, 6) => Bin,
        (FileMeta, 7) => List(Elem::Struct(ColumnOrder)),
        (Schema, 1..=3 | 5..=9) => Int,
        (Schema, 4) => Bin,
        (Schema, 10) => s(Logical),
        (Logical, 5) => s(Decimal),
        (Logical, 7 | 8) => s(Time),
        (Logical, 10) => s(IntType),
        (Logical, 1..=4 | 6 | 11..=15) => s(Empty),
        (Decimal, 1 | 2) => Int,
        (Time, 1) => Bool,
        (Time, 2) => s(TimeUnit),
        (TimeUnit, 1..=3) => s(Empty),
        (IntType, 1) => Byte,
        (IntType, 2) => Bool,
        (RowGroup, 1) => List(Elem::Struct(Chunk)),
        (RowGroup, 2 | 3 | 5..=7) => Int,
        (RowGroup, 4) => List(Elem::Struct(Sorting)),
        (Sorting, 1) => Int,
        (Sorting, 2 | 3) => Bool,
        (Chunk, 1) => Bin,
        (Chunk, 2 | 4..=7) => Int,
        (Chunk, 3) => s(ColumnMeta),
        (ColumnMeta, 1 | 4..=7 | 9..=11 | 14 | 15) => Int,
        (ColumnMeta, 2) => List(Elem::Int),
        (ColumnMeta, 3) => List(Elem::Bin),
        (ColumnMeta, 12) => s(Stats),
        (Stats, 1 | 2 | 5 | 6) => Bin,
        (Stats, 3 | 4) => Int,
        (Stats, 7 | 8) => Bool,
        (KeyValue, 1 | 2) => Bin,
        (ColumnOrder, 1 | 2) => s(Empty),
        (Page, 1..=4) => Int,
        (Page, 5) => s(DataPage),
        (Page, 6) => s(Empty),
        (Page, 7) => s(DictPage),
        (Page, 8) => s(DataPageV2),
        (DataPage, 1..=4) => Int,
        (DataPage, 5) => s(Stats),
        (DictPage, 1 | 2) => Int,
        (DictPage, 3) => Bool,
        (DataPageV2, 1..=6) => Int,
        (DataPageV2, 7) => Bool,
        (DataPageV2, 8) => s(Stats),
        _ => return None,
    })
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
    /// An integer field (i8 to i64) of compact type `ty`.
    fn int(&mut self, ty: u8) -> Result<i64, String> {
        match ty {
            3 => self.byte().map(|b| i64::from(b as i8)),
            4..=6 => self.varint().map(|v| (v >> 1) as i64 ^ -((v & 1) as i64)),
            other => Err(format!("a value of type {other} where an integer belongs")),
        }
    }
    /// A count of elements of at least `per` bytes each: at most the bytes left.
    fn count(&mut self, size: u64, per: usize) -> Result<usize, String> {
        let size = usize::try_from(size).map_err(|_| "a count beyond memory")?;
        if size.saturating_mul(per) > self.left() {
            return Err(format!("a list of {size} elements where {} bytes are left", self.left()));
        }
        Ok(size)
    }
    /// A list header: its element type and its size (at most the bytes left).
    fn list_header(&mut self) -> Result<(u8, usize), String> {
        let head = self.byte()?;
        let size = match head >> 4 {
            15 => self.varint()?,
            s => u64::from(s),
        };
        Ok((head & 0x0f, self.count(size, 1)?))
    }
    /// The fields of a struct, each given to `on` (id, compact type), which
    /// reads or skips its value.
    fn fields(
        &mut self,
        depth: usize,
        mut on: impl FnMut(&mut Self, i16, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        if depth >= MAX_DEPTH {
            return Err(format!("structs nested deeper than {MAX_DEPTH}"));
        }
        let mut id = 0i16;
        loop {
            let head = self.byte()?;
            if head == 0 {
                return Ok(());
            }
            id = match head >> 4 {
                0 => self.int(5)? as i16, // a field id written in full
                delta => id.wrapping_add(i16::from(delta)),
            };
            on(self, id, head & 0x0f)?;
        }
    }
    /// A list (or set) of compact type `ty`, each element given to `each`.
    fn list(
        &mut self,
        ty: u8,
        depth: usize,
        mut each: impl FnMut(&mut Self, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        if !matches!(ty, 9 | 10) {
            return Err(format!("a value of type {ty} where a list belongs"));
        }
        let (elem, size) = self.list_header()?;
        for _ in 0..size {
            if elem != STRUCT {
                return Err(format!("a list of type {elem} where structs belong"));
            }
            if depth >= MAX_DEPTH {
                return Err(format!("structs nested deeper than {MAX_DEPTH}"));
            }
            each(self, elem)?;
        }
        Ok(())
    }
    /// A struct of `kind`: every field polars reads must have the type polars
    /// reads it as. polars reads a known field by its expected type whatever
    /// type the file declares, so a file declaring another would be framed
    /// differently by polars than by this check (a fuzz find: a list of
    /// booleans made polars loop for seconds on a count this check never saw).
    fn check_struct(&mut self, kind: Kind, depth: usize) -> Result<(), String> {
        self.fields(depth, |r, id, ty| match field_type(kind, id) {
            None => r.skip(ty, depth + 1),
            Some(want) => {
                let fits = match want {
                    Ty::Byte => ty == 3,
                    Ty::Int => (4..=6).contains(&ty),
                    Ty::Bool => matches!(ty, 1 | 2),
                    Ty::Bin => ty == 8,
                    Ty::Struct(_) => ty == STRUCT,
                    Ty::List(_) => ty == 9,
                };
                if !fits {
                    return Err(format!("field {id} of a {kind:?} has type {ty}, not the {want:?} it holds"));
                }
                match want {
                    Ty::Struct(k) => r.check_struct(k, depth + 1),
                    Ty::List(elem) => {
                        let (ty, size) = r.list_header()?;
                        let fits = match elem {
                            Elem::Int => (4..=6).contains(&ty),
                            Elem::Bin => ty == 8,
                            Elem::Struct(_) => ty == STRUCT,
                        };
                        if size > 0 && !fits {
                            return Err(format!("field {id} of a {kind:?} is a list of type {ty}, not {elem:?}"));
                        }
                        for _ in 0..size {
                            match elem {
                                Elem::Struct(k) => r.check_struct(k, depth + 1)?,
                                Elem::Int => r.skip(5, depth + 1)?,
                                Elem::Bin => r.skip(8, depth + 1)?,
                            }
                        }
                        Ok(())
                    }
                    _ => r.skip(ty, depth + 1),
                }
            }
        })
    }
    /// Skip a value of compact type `ty` as polars does, refusing what polars
    /// would skip otherwise (a boolean in a list takes no byte there) or cannot.
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
            9 => {
                let (elem, size) = self.list_header()?;
                if size > 0 && matches!(elem, 1 | 2) {
                    return Err("a list of booleans, which polars reads otherwise".into());
                }
                for _ in 0..size {
                    self.skip(elem, depth)?
                }
                Ok(())
            }
            STRUCT => self.fields(depth, |r, _, ty| r.skip(ty, depth + 1)),
            10 | 11 | 13 => Err(format!("a value of type {ty} (a set, map or UUID), which polars cannot read")),
            other => Err(format!("unknown value type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(df: &mut polars::prelude::DataFrame) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.parquet");
        crate::frames::write_parquet(df, &path).unwrap();
        check_path(&path).unwrap();
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn a_written_file_passes_and_a_lying_list_length_does_not() {
        let bytes = written(&mut polars::prelude::df!("a" => [1u32, 2, 3], "b" => ["x", "y", "z"]).unwrap());
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

    #[test]
    fn a_field_of_another_type_than_polars_reads_is_refused() {
        // The fuzz find: polars framed this footer otherwise and looped for seconds.
        let found = include_bytes!("../../fuzz/found/trace_file/footer-framed-otherwise-by-polars.parquet");
        let e = check(found).unwrap_err();
        assert!(e.starts_with("its footer is malformed: "), "{e}");
        // A FileMetaData whose num_rows (field 3, an i64) is declared a string.
        let mut r = Reader { buf: &[0x38, 0x01, b'x', 0x00], at: 0 };
        let e = r.check_struct(Kind::FileMeta, 0).unwrap_err();
        assert_eq!(e, "field 3 of a FileMeta has type 8, not the Int it holds");
        // A list of booleans in a field polars skips: polars reads no byte per element.
        let mut r = Reader { buf: &[0x99, 0x21, 0x01, 0x01, 0x00], at: 0 };
        assert_eq!(r.check_struct(Kind::Empty, 0).unwrap_err(), "a list of booleans, which polars reads otherwise");
    }

    #[test]
    fn a_page_with_a_negative_value_count_is_refused() {
        // The fuzz find: a data page claiming -33 values made polars ask for 2 EiB.
        let found = include_bytes!("../../fuzz/found/trace_file/page-asks-2-EiB.parquet");
        let e = check(found).unwrap_err();
        assert_eq!(e, "row group 0, column 0: a page claims -33 values of the chunk's 19");
    }

    #[test]
    fn a_file_that_would_decode_beyond_its_budget_is_refused() {
        // Two million equal values compress to a few hundred bytes: legitimate
        // Parquet, but 32 MB decoded from a tiny file. Within the floor: passes.
        let n = 2_000_000;
        let mut df = polars::prelude::df!("a" => vec![7u32; n]).unwrap();
        let bytes = written(&mut df);
        assert!(bytes.len() < 10_000, "{}", bytes.len());
        check(&bytes).unwrap();
        // Five million: 80 MB counted, over the 64 MiB floor and 1024× the file.
        let mut df = polars::prelude::df!("a" => vec![7u32; 5_000_000]).unwrap();
        let bytes = written_unchecked(&mut df);
        let e = check(&bytes).unwrap_err();
        assert!(e.contains("would decode to more than 64 MiB"), "{e}");
        assert_eq!(decoded_budget(1 << 20), 1 << 30);
    }

    fn written_unchecked(df: &mut polars::prelude::DataFrame) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.parquet");
        crate::frames::write_parquet(df, &path).unwrap();
        std::fs::read(&path).unwrap()
    }
}
