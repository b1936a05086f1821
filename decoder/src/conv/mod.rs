//! Conversations: putting a TCP direction back in order ([`reassembly`]), cutting it into
//! messages ([`framer`]), and pairing requests with responses ([`pair`]).

pub mod framer;
pub mod pair;
pub mod reassembly;

pub use framer::{Framer, RawMessage};
pub use pair::{Matched, Pairer};
pub use reassembly::{Chunk, Reassembler};
