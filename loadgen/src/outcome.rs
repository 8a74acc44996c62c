//! What happened to one request, and how hyper's and the socket's errors map onto it.

use std::error::Error as _;
use std::io;

/// The fate of one intended request. Every request the schedule (or a closed-loop worker)
/// intended to send ends in exactly one of these, whether or not it reached the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A 1xx/2xx response (completed).
    Http2xx,
    /// A 3xx response (completed: the generator does not follow redirects).
    Http3xx,
    /// A 4xx response (rejected).
    Http4xx,
    /// A 5xx response (rejected).
    Http5xx,
    /// The TCP connection was refused (rejected).
    ConnectRefused,
    /// The TCP connect or TLS handshake took longer than the connect timeout (timed out).
    ConnectTimeout,
    /// Any other failure to connect: unreachable, DNS, TLS handshake (rejected).
    ConnectError,
    /// The connection was reset or closed before the response was complete (rejected).
    Reset,
    /// The response was not valid HTTP (rejected).
    Protocol,
    /// No complete response within the request timeout (timed out).
    Timeout,
    /// Written to a connection but still unanswered when the run ended, after the grace period
    /// (in flight at end).
    Aborted,
    /// Never written to a connection: the run ended (or `--max-lag` stopped it) while it was
    /// still scheduled, waiting for a connection, or on a connection being opened (rejected).
    NotSent,
    /// Dropped without being sent because `max_pending` requests were already waiting for a
    /// connection: the target (or the connection limit) could not take the offered rate
    /// (rejected).
    QueueFull,
}

/// Every outcome, in report order.
pub const OUTCOMES: [Outcome; 13] = [
    Outcome::Http2xx,
    Outcome::Http3xx,
    Outcome::Http4xx,
    Outcome::Http5xx,
    Outcome::ConnectRefused,
    Outcome::ConnectTimeout,
    Outcome::ConnectError,
    Outcome::Reset,
    Outcome::Protocol,
    Outcome::Timeout,
    Outcome::Aborted,
    Outcome::NotSent,
    Outcome::QueueFull,
];

/// Which counter of the result document's `requests` an outcome adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// `completed`.
    Completed,
    /// `rejected`.
    Rejected,
    /// `timed_out`.
    TimedOut,
    /// `in_flight_at_end`.
    InFlightAtEnd,
}

impl Outcome {
    /// The key in `extra["outcomes"]`.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Http2xx => "http_2xx",
            Outcome::Http3xx => "http_3xx",
            Outcome::Http4xx => "http_4xx",
            Outcome::Http5xx => "http_5xx",
            Outcome::ConnectRefused => "connect_refused",
            Outcome::ConnectTimeout => "connect_timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::Reset => "reset",
            Outcome::Protocol => "protocol_error",
            Outcome::Timeout => "timeout",
            Outcome::Aborted => "aborted",
            Outcome::NotSent => "not_sent",
            Outcome::QueueFull => "queue_full",
        }
    }

    /// What the outcome means, in a few words, for summaries and error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Outcome::Http2xx => "1xx/2xx response",
            Outcome::Http3xx => "3xx response",
            Outcome::Http4xx => "4xx response",
            Outcome::Http5xx => "5xx response",
            Outcome::ConnectRefused => "connection refused",
            Outcome::ConnectTimeout => "connect or TLS handshake timed out",
            Outcome::ConnectError => "could not connect (TLS, unreachable, ...)",
            Outcome::Reset => "connection reset or closed mid-response",
            Outcome::Protocol => "response was not valid HTTP",
            Outcome::Timeout => "no complete response within the timeout",
            Outcome::Aborted => "still unanswered when the run ended",
            Outcome::NotSent => "never sent: the run ended first",
            Outcome::QueueFull => "dropped: too many requests waiting for a connection",
        }
    }

    /// Whether the request succeeded (a 1xx, 2xx or 3xx response).
    pub const fn is_success(self) -> bool {
        matches!(self, Outcome::Http2xx | Outcome::Http3xx)
    }

    /// The outcome with this [`name`](Outcome::name).
    pub fn from_name(name: &str) -> Option<Outcome> {
        OUTCOMES.iter().copied().find(|o| o.name() == name)
    }

    /// Index into per-outcome counters.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The `requests` counter it adds to.
    pub const fn bucket(self) -> Bucket {
        match self {
            Outcome::Http2xx | Outcome::Http3xx => Bucket::Completed,
            Outcome::ConnectTimeout | Outcome::Timeout => Bucket::TimedOut,
            Outcome::Aborted => Bucket::InFlightAtEnd,
            _ => Bucket::Rejected,
        }
    }

    /// The outcome of a response with this status code.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            0..=299 => Outcome::Http2xx,
            300..=399 => Outcome::Http3xx,
            400..=499 => Outcome::Http4xx,
            _ => Outcome::Http5xx,
        }
    }

    /// Classifies a failed TCP connect.
    pub(crate) fn from_connect_io(e: &io::Error) -> Outcome {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Outcome::ConnectRefused,
            io::ErrorKind::TimedOut => Outcome::ConnectTimeout,
            _ => Outcome::ConnectError,
        }
    }

    /// Classifies a failed exchange on an open connection (hyper's error, or a body error).
    pub(crate) fn from_hyper(e: &hyper::Error) -> Outcome {
        if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
            return Outcome::Protocol;
        }
        if e.is_timeout() {
            return Outcome::Timeout;
        }
        // A reset socket, or a peer that closed the connection before the response ended.
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<io::Error>() {
                return match io.kind() {
                    io::ErrorKind::InvalidData => Outcome::Protocol,
                    _ => Outcome::Reset,
                };
            }
            if s.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_parse)
            {
                return Outcome::Protocol;
            }
            source = s.source();
        }
        if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
            return Outcome::Reset;
        }
        Outcome::Protocol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_buckets() {
        assert_eq!(Outcome::from_status(204).bucket(), Bucket::Completed);
        assert_eq!(Outcome::from_status(302).bucket(), Bucket::Completed);
        assert_eq!(Outcome::from_status(404), Outcome::Http4xx);
        assert_eq!(Outcome::from_status(503).bucket(), Bucket::Rejected);
        assert_eq!(Outcome::ConnectTimeout.bucket(), Bucket::TimedOut);
        assert_eq!(Outcome::Aborted.bucket(), Bucket::InFlightAtEnd);
        for (i, o) in OUTCOMES.iter().enumerate() {
            assert_eq!(o.index(), i);
        }
    }
}
