#include "transport/listener.h"

#include <boost/asio/error.hpp>
#include <system_error>

namespace pbft::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

uint16_t listen_on(tcp::acceptor& acceptor, const std::string& host, uint16_t port, const std::string& what) {
  boost::system::error_code ec;
  uint16_t bound = 0;
  tcp::resolver resolver(acceptor.get_executor());
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (!ec && results.empty()) ec = asio::error::host_not_found;
  if (!ec) {
    const tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) bound = acceptor.local_endpoint(ec).port();
  }
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    throw std::system_error(std::error_code(ec), what + " " + host + ":" + std::to_string(port));
  }
  return bound;
}

}  // namespace pbft::transport
