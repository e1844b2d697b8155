//! replay: runs a pcap/pcapng file through the stream -> signals -> export path.
