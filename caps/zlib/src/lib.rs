//! The zlib cap (being written).
