//! Kernel networking without child processes: rtnetlink and raw packet sockets.
