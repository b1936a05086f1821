//! Reading pcap and pcapng captures record by record, numbering frames as Wireshark does.
//!
//! [`Reader::open`] reads a file; [`Reader::from_read`] any byte stream (standard input, a
//! pipe from `tcpdump -U -w -`): each record is handed out as soon as its bytes have arrived,
//! so a live capture is decoded as it happens.

use super::CaptureError;
use super::link::LinkType;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{
    Block, PcapNgReader, blocks::interface_description::InterfaceDescriptionOption,
};
use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// 1-based, every frame counted.
    pub frame: u64,
    /// Since the Unix epoch.
    pub time: Duration,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length on the wire (more than `data.len()` when the snaplen cut it).
    pub orig_len: u32,
}

/// Counts the bytes read, for progress reporting.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.count.set(self.count.get() + n as u64);
                    return Ok(n);
                }
                // A signal (e.g. a terminal resize) is not the end of a pipe.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

type Input = BufReader<Counting<io::Chain<io::Cursor<[u8; 4]>, Box<dyn Read>>>>;

enum Format {
    Pcap {
        nanos: bool,
        reader: PcapReader<Input>,
        link: LinkType,
    },
    PcapNg {
        reader: PcapNgReader<Input>,
        interfaces: Vec<(LinkType, TsUnit)>,
    },
}

/// Timestamp unit of a pcapng interface (`if_tsresol`).
#[derive(Debug, Clone, Copy)]
struct TsUnit(u8);

impl TsUnit {
    fn to_duration(self, raw: u64) -> Duration {
        let v = self.0 & 0x7f;
        if self.0 & 0x80 == 0 {
            // 10^-v seconds per unit.
            match v {
                0..=9 => {
                    let per_sec = 10u64.pow(u32::from(v));
                    let nanos_per = 1_000_000_000 / per_sec;
                    Duration::new(raw / per_sec, ((raw % per_sec) * nanos_per) as u32)
                }
                _ => {
                    let div = 10u128.pow(u32::from(v) - 9);
                    Duration::from_nanos((u128::from(raw) / div) as u64)
                }
            }
        } else {
            let shift = u32::from(v.min(63));
            let per_sec = 1u128 << shift;
            let secs = u128::from(raw) / per_sec;
            let nanos = (u128::from(raw) % per_sec) * 1_000_000_000 / per_sec;
            Duration::new(secs as u64, nanos as u32)
        }
    }
}

/// A capture file opened for reading.
pub struct Reader {
    format: Format,
    frame: u64,
    read: Rc<Cell<u64>>,
    len: u64,
    buf: Vec<u8>,
}

impl Reader {
    /// Opens a pcap or pcapng file; an unsupported pcap link type is refused here.
    pub fn open(path: &Path) -> Result<Reader, CaptureError> {
        let file = File::open(path).map_err(CaptureError::Io)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        Reader::from_read(file, len)
    }

    /// Reads a pcap or pcapng capture from any byte stream (`len`: its size if known, else 0,
    /// for [`Reader::progress`] only). Reads no further than the first header here; later
    /// records are read when asked for, each as soon as its bytes are there.
    pub fn from_read(mut input: impl Read + 'static, len: u64) -> Result<Reader, CaptureError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < magic.len() {
            match input.read(&mut magic[got..]) {
                Ok(0) => return Err(CaptureError::NotACapture { magic: None }),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::Io(e)),
            }
        }
        let read = Rc::new(Cell::new(0));
        let inner: Box<dyn Read> = Box::new(input);
        let input = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: io::Cursor::new(magic).chain(inner),
                count: read.clone(),
            },
        );
        let format = match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => Format::PcapNg {
                reader: PcapNgReader::new(input)
                    .map_err(|e| CaptureError::Format(e.to_string()))?,
                interfaces: Vec::new(),
            },
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => {
                let reader =
                    PcapReader::new(input).map_err(|e| CaptureError::Format(e.to_string()))?;
                let header = reader.header();
                let link = LinkType(u32::from(header.datalink));
                link.check()?;
                let nanos = header.ts_resolution == pcap_file::TsResolution::NanoSecond;
                Format::Pcap {
                    reader,
                    link,
                    nanos,
                }
            }
            other => return Err(CaptureError::NotACapture { magic: Some(other) }),
        };
        Ok(Reader {
            format,
            frame: 0,
            read,
            len,
            buf: Vec::new(),
        })
    }

    /// Bytes read so far, and the size given (0 when unknown).
    pub fn progress(&self) -> (u64, u64) {
        (self.read.get(), self.len)
    }

    /// The next frame; `None` at the end of the file.
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, CaptureError>> {
        loop {
            let (link, time, orig_len) = match &mut self.format {
                Format::Pcap {
                    reader,
                    link,
                    nanos,
                } => match reader.next_raw_packet()? {
                    // The raw record, because pcap-file's checked one refuses the records a
                    // small snaplen produces (orig_len above the snaplen).
                    Ok(p) => {
                        self.buf.clear();
                        self.buf.extend_from_slice(&p.data);
                        let frac = if *nanos {
                            p.ts_frac
                        } else {
                            p.ts_frac.saturating_mul(1000)
                        };
                        let time = Duration::new(u64::from(p.ts_sec), 0)
                            + Duration::from_nanos(u64::from(frac));
                        (*link, time, p.orig_len)
                    }
                    Err(e) => {
                        return Some(Err(cut_short(e, self.frame, self.read.get() < self.len)));
                    }
                },
                Format::PcapNg { reader, interfaces } => {
                    let block = match reader.next_block()? {
                        Ok(b) => b,
                        Err(e) => {
                            return Some(Err(cut_short(e, self.frame, self.read.get() < self.len)));
                        }
                    };
                    let (iface, raw_ts, data, orig_len) = match block {
                        Block::SectionHeader(_) => {
                            interfaces.clear();
                            continue;
                        }
                        Block::InterfaceDescription(idb) => {
                            let unit = idb
                                .options
                                .iter()
                                .find_map(|o| match o {
                                    InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                                    _ => None,
                                })
                                .unwrap_or(6);
                            interfaces.push((LinkType(u32::from(idb.linktype)), TsUnit(unit)));
                            continue;
                        }
                        // pcap-file reads the 64-bit timestamp as nanoseconds; it is in the
                        // interface's unit, so it is converted again here.
                        Block::EnhancedPacket(p) => (
                            p.interface_id as usize,
                            p.timestamp.as_nanos() as u64,
                            p.data,
                            p.original_len,
                        ),
                        Block::Packet(p) => {
                            (p.interface_id as usize, p.timestamp, p.data, p.original_len)
                        }
                        Block::SimplePacket(p) => (0, 0, p.data, p.original_len),
                        _ => continue,
                    };
                    let Some(&(link, unit)) = interfaces.get(iface) else {
                        self.frame += 1;
                        return Some(Err(CaptureError::Format(format!(
                            "frame {} names interface {iface}, which the file does not describe",
                            self.frame
                        ))));
                    };
                    self.buf.clear();
                    self.buf.extend_from_slice(&data);
                    (link, unit.to_duration(raw_ts), orig_len)
                }
            };
            self.frame += 1;
            if let Err(e) = link.check() {
                return Some(Err(e));
            }
            return Some(Ok(Record {
                frame: self.frame,
                time,
                link,
                data: &self.buf,
                orig_len,
            }));
        }
    }
}

/// pcap-file buffers 8 MB: a record larger than that fails like a file cut short, except that
/// the file has bytes left.
fn cut_short(e: pcap_file::PcapError, frames: u64, bytes_left: bool) -> CaptureError {
    let eof = matches!(&e, pcap_file::PcapError::IncompleteBuffer)
        || matches!(&e, pcap_file::PcapError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof);
    if eof && bytes_left {
        return CaptureError::Format(format!(
            "the record after frame {frames} is larger than 8 MB"
        ));
    }
    match e {
        pcap_file::PcapError::IncompleteBuffer => CaptureError::CutShort {
            after_frame: frames,
        },
        pcap_file::PcapError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            CaptureError::CutShort {
                after_frame: frames,
            }
        }
        other => CaptureError::Format(format!("after frame {frames}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::TsUnit;
    use std::time::Duration;

    #[test]
    fn timestamp_units() {
        assert_eq!(
            TsUnit(6).to_duration(1_500_000),
            Duration::from_millis(1500)
        );
        assert_eq!(
            TsUnit(9).to_duration(1_500_000_000),
            Duration::from_millis(1500)
        );
        assert_eq!(
            TsUnit(0x80 | 10).to_duration(1536),
            Duration::from_millis(1500)
        );
    }
}
