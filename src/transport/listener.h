// Binding a listening TCP socket, for the replica and client listeners.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

namespace pbft::transport {

// Resolves host:port (numeric port; 0 picks one), opens, binds and listens
// on `acceptor`; returns the bound port. Throws std::system_error naming
// `what` and the address when it cannot.
uint16_t listen_on(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host, uint16_t port,
                   const std::string& what);

}  // namespace pbft::transport
