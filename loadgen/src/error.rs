//! The load generator's errors: problems that stop a run before or after it. Failed requests are
//! not errors here; they are counted by class ([`crate::Outcome`]).

use std::path::PathBuf;

/// Why a load run could not be set up or its results not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The target URL cannot be used (fatal, bad input).
    #[error("invalid url \"{url}\": {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request definition (method, header, path) cannot be sent (fatal, bad input).
    #[error("invalid request {index}: {reason}")]
    BadRequest {
        /// Index in the request list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings that contradict each other or are out of range (fatal, bad input).
    #[error("{0}")]
    BadConfig(String),
    /// The target's host name does not resolve (fatal).
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The HdrHistogram interval log cannot be written (fatal).
    #[error("writing the hdr log {}: {reason}", path.display())]
    HdrLog {
        /// The log file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The `--cacert` file cannot be read or holds no usable certificate (fatal, bad input).
    #[error("--cacert {}: {reason}", path.display())]
    CaCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The `--output` file cannot be written (fatal).
    #[error("writing --output {}: {reason}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Result documents cannot be merged (bad input).
    #[error("cannot merge results: {0}")]
    Merge(String),
}
