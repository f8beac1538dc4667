#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace pbft::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

Response text_response(const Request& req, const std::string& body) {
  Response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  res.keep_alive(req.keep_alive());
  res.body() = body;
  res.prepare_payload();
  return res;
}

// Answers at once with "<method> <target> <body>".
void echo_handler(Request req, Respond respond) {
  const std::string body =
      std::string(req.method_string()) + " " + std::string(req.target()) + " " + req.body();
  respond(text_response(req, body));
}

Request make_get(const std::string& target, bool keep_alive = true) {
  Request req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  return req;
}

// The server runs on `io` in the test thread; clients use blocking sockets
// in a second thread (on their own io_context, never run).
class ServerTest : public ::testing::Test {
 protected:
  void start(Handler handler, ServerOptions options = {}) {
    server = std::make_unique<Server>(io, options, std::move(handler));
    server->start();
    port = server->port();
    ASSERT_NE(port, 0);
  }

  // Runs `client` in another thread while the io_context runs here; when the
  // client is done the server is stopped and the io_context runs dry.
  void run_client(const std::function<void()>& client) {
    auto guard = asio::make_work_guard(io);
    std::atomic<bool> done{false};
    std::thread thread([&] {
      client();
      asio::post(io, [&] {
        server->stop();
        guard.reset();
        done = true;
      });
    });
    io.run_for(30s);
    if (!done) {
      // Watchdog: closing the server side unblocks a stuck client.
      ADD_FAILURE() << "client did not finish in time";
      server->stop();
      io.restart();
      io.run_for(2s);
    }
    thread.join();
  }

  // Runs `fn` on the io thread and waits for it (from the client thread).
  void on_io(std::function<void()> fn) {
    std::promise<void> ran;
    asio::post(io, [&] {
      fn();
      ran.set_value();
    });
    ran.get_future().wait();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    return socket;
  }

  static Response roundtrip(tcp::socket& socket, beast::flat_buffer& buffer, const Request& req,
                            beast::error_code& ec) {
    bhttp::write(socket, req, ec);
    Response res;
    if (ec) return res;
    bhttp::read(socket, buffer, res, ec);
    return res;
  }

  // True when the server closed the connection (EOF or reset on read).
  static bool closed_by_server(tcp::socket& socket, beast::flat_buffer& buffer) {
    Response res;
    beast::error_code ec;
    bhttp::read(socket, buffer, res, ec);
    return ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::eof;
  }

  asio::io_context io;
  asio::io_context client_io;
  std::unique_ptr<Server> server;
  uint16_t port = 0;
};

TEST_F(ServerTest, AnswersARequest) {
  std::atomic<int> calls{0};
  start([&](Request req, Respond respond) {
    ++calls;
    echo_handler(std::move(req), std::move(respond));
  });
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto req = make_get("/hello?x=1");
    auto res = roundtrip(socket, buffer, req, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "GET /hello?x=1 ");
    EXPECT_TRUE(res.keep_alive());
  });
  EXPECT_EQ(calls, 1);
}

TEST_F(ServerTest, KeepAliveServesThreeRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  start([&](Request req, Respond respond) {
    ++calls;
    echo_handler(std::move(req), std::move(respond));
  });
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    for (int i = 0; i < 3; ++i) {
      beast::error_code ec;
      Request req{bhttp::verb::post, "/n/" + std::to_string(i), 11};
      req.body() = "body" + std::to_string(i);
      req.prepare_payload();
      auto res = roundtrip(socket, buffer, req, ec);
      ASSERT_FALSE(ec) << i << ": " << ec.message();
      EXPECT_EQ(res.body(), "POST /n/" + std::to_string(i) + " body" + std::to_string(i));
      EXPECT_TRUE(res.keep_alive());
    }
  });
  EXPECT_EQ(calls, 3);
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start(echo_handler);
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto res = roundtrip(socket, buffer, make_get("/bye", /*keep_alive=*/false), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(closed_by_server(socket, buffer));
  });
}

TEST_F(ServerTest, HandlerMayAnswerLater) {
  start([this](Request req, Respond respond) {
    auto timer = std::make_shared<asio::steady_timer>(io, 50ms);
    timer->async_wait([timer, req = std::move(req), respond](beast::error_code) {
      respond(text_response(req, "late " + std::string(req.target())));
    });
  });
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    for (int i = 0; i < 2; ++i) {
      beast::error_code ec;
      auto res = roundtrip(socket, buffer, make_get("/t" + std::to_string(i)), ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.body(), "late /t" + std::to_string(i));
    }
  });
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // The first request is answered late, the second at once: still in order.
  start([this](Request req, Respond respond) {
    if (req.target() == "/slow") {
      auto timer = std::make_shared<asio::steady_timer>(io, 50ms);
      timer->async_wait([timer, req = std::move(req), respond](beast::error_code) {
        respond(text_response(req, "slow"));
      });
    } else {
      respond(text_response(req, "fast"));
    }
  });
  run_client([&] {
    auto socket = connect();
    std::string both;
    for (const char* target : {"/slow", "/fast"}) {
      auto req = make_get(target);
      req.prepare_payload();
      std::ostringstream out;
      out << req;
      both += out.str();
    }
    asio::write(socket, asio::buffer(both));
    beast::flat_buffer buffer;
    for (const char* expected : {"slow", "fast"}) {
      Response res;
      beast::error_code ec;
      bhttp::read(socket, buffer, res, ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.body(), expected);
    }
  });
}

TEST_F(ServerTest, RespondTwiceIsIgnoredTheSecondTime) {
  start([](Request req, Respond respond) {
    respond(text_response(req, "first"));
    respond(text_response(req, "second"));
  });
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    for (int i = 0; i < 2; ++i) {
      beast::error_code ec;
      auto res = roundtrip(socket, buffer, make_get("/x"), ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.body(), "first");
    }
  });
}

TEST_F(ServerTest, HandlerThrowingGives500) {
  start([](Request, Respond) { throw std::runtime_error("boom"); });
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto res = roundtrip(socket, buffer, make_get("/x"), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result_int(), 500u);
    EXPECT_TRUE(closed_by_server(socket, buffer));
  });
}

TEST_F(ServerTest, BodyOverLimitGets413) {
  std::atomic<int> calls{0};
  ServerOptions options;
  options.body_bytes_max = 1u << 20;
  start(
      [&](Request req, Respond respond) {
        ++calls;
        echo_handler(std::move(req), std::move(respond));
      },
      options);
  run_client([&] {
    {
      // Content-Length over the limit.
      auto socket = connect();
      Request req{bhttp::verb::post, "/big", 11};
      req.body() = std::string(2u << 20, 'x');
      req.prepare_payload();
      beast::flat_buffer buffer;
      beast::error_code ec;
      auto res = roundtrip(socket, buffer, req, ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.result_int(), 413u);
      EXPECT_EQ(res[bhttp::field::content_type], "application/json");
      auto j = nlohmann::json::parse(res.body(), nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("error")) << res.body();
      EXPECT_FALSE(res.keep_alive());
      EXPECT_TRUE(closed_by_server(socket, buffer));
    }
    {
      // Chunked, over the limit.
      auto socket = connect();
      Request req{bhttp::verb::post, "/big-chunked", 11};
      req.body() = std::string(2u << 20, 'y');
      req.chunked(true);
      beast::flat_buffer buffer;
      beast::error_code ec;
      auto res = roundtrip(socket, buffer, req, ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.result_int(), 413u);
    }
    {
      // Exactly at the limit is fine, and the server still serves.
      auto socket = connect();
      Request req{bhttp::verb::post, "/ok", 11};
      req.body() = std::string(1u << 20, 'z');
      req.prepare_payload();
      beast::flat_buffer buffer;
      beast::error_code ec;
      auto res = roundtrip(socket, buffer, req, ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.result_int(), 200u);
      EXPECT_EQ(res.body().size(), std::string("POST /ok ").size() + (1u << 20));
    }
  });
  EXPECT_EQ(calls, 1);
}

TEST_F(ServerTest, GarbageGets400AndServerKeepsServing) {
  std::atomic<int> calls{0};
  start([&](Request req, Respond respond) {
    ++calls;
    echo_handler(std::move(req), std::move(respond));
  });
  run_client([&] {
    for (const std::string& garbage :
         {std::string("\x01\x02\x03 not http at all\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
          std::string("GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")}) {
      auto socket = connect();
      asio::write(socket, asio::buffer(garbage));
      beast::flat_buffer buffer;
      Response res;
      beast::error_code ec;
      bhttp::read(socket, buffer, res, ec);
      // (A closed connection would be acceptable too, but this server answers.)
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_EQ(res.result_int(), 400u);
      auto j = nlohmann::json::parse(res.body(), nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("error")) << res.body();
      EXPECT_FALSE(res.keep_alive());
      EXPECT_TRUE(closed_by_server(socket, buffer));
    }
    auto socket = connect();
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto res = roundtrip(socket, buffer, make_get("/still"), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.body(), "GET /still ");
  });
  EXPECT_EQ(calls, 1);
}

TEST_F(ServerTest, HeaderOverLimitGets400) {
  ServerOptions options;
  options.header_bytes_max = 1024;
  start(echo_handler, options);
  run_client([&] {
    auto socket = connect();
    auto req = make_get("/h");
    req.set("x-filler", std::string(4096, 'a'));
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto res = roundtrip(socket, buffer, req, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result_int(), 400u);
  });
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnections) {
  start(echo_handler);
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto res = roundtrip(socket, buffer, make_get("/a"), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(res.keep_alive());
    on_io([&] { server->stop(); });
    EXPECT_TRUE(closed_by_server(socket, buffer));
    // No longer accepting.
    tcp::socket again(client_io);
    again.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    EXPECT_TRUE(ec) << "connected after stop";
  });
  server->stop();  // twice is fine
}

TEST_F(ServerTest, RespondAfterStopOrDestructionDoesNothing) {
  std::vector<Respond> stashed;
  start([&](Request, Respond respond) { stashed.push_back(std::move(respond)); });
  run_client([&] {
    auto socket = connect();
    beast::flat_buffer buffer;
    bhttp::write(socket, make_get("/wait"));
    while (true) {
      bool got = false;
      on_io([&] { got = !stashed.empty(); });
      if (got) break;
      std::this_thread::sleep_for(5ms);
    }
    on_io([&] {
      server->stop();
      stashed.front()(json_error(503, "too late"));
    });
    EXPECT_TRUE(closed_by_server(socket, buffer));
  });
  ASSERT_EQ(stashed.size(), 1u);
  server.reset();
  stashed.front()(json_error(503, "even later"));
  io.restart();
  io.run_for(100ms);
}

TEST_F(ServerTest, IdleConnectionsTimeOut) {
  ServerOptions options;
  options.idle_timeout_ms = 100;
  start(echo_handler, options);
  run_client([&] {
    {
      auto socket = connect();  // never sends
      beast::flat_buffer buffer;
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_TRUE(closed_by_server(socket, buffer));
      EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    }
    {
      auto socket = connect();
      beast::flat_buffer buffer;
      beast::error_code ec;
      roundtrip(socket, buffer, make_get("/a"), ec);
      ASSERT_FALSE(ec) << ec.message();
      EXPECT_TRUE(closed_by_server(socket, buffer));  // idle after the answer
    }
  });
}

TEST_F(ServerTest, ConnectionsOverTheCapAreRefused) {
  ServerOptions options;
  options.connections_max = 1;
  start(echo_handler, options);
  run_client([&] {
    auto first = connect();
    beast::flat_buffer first_buffer;
    beast::error_code ec;
    roundtrip(first, first_buffer, make_get("/1"), ec);
    ASSERT_FALSE(ec) << ec.message();

    auto second = connect();
    beast::flat_buffer second_buffer;
    bhttp::write(second, make_get("/2"), ec);  // may fail if already closed
    EXPECT_TRUE(closed_by_server(second, second_buffer));

    auto res = roundtrip(first, first_buffer, make_get("/1b"), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.body(), "GET /1b ");

    // Once the first leaves, a new connection gets in.
    first.close();
    bool served = false;
    for (int attempt = 0; attempt < 100 && !served; ++attempt) {
      auto third = connect();
      beast::flat_buffer buffer;
      auto r = roundtrip(third, buffer, make_get("/3"), ec);
      served = !ec && r.body() == "GET /3 ";
      if (!served) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(served);
  });
}

TEST_F(ServerTest, PortInUseThrows) {
  start(echo_handler);
  ServerOptions options;
  options.port = port;
  Server other(io, options, echo_handler);
  EXPECT_THROW(other.start(), std::system_error);
}

TEST_F(ServerTest, StopWithoutStartAndTwice) {
  Server s(io, {}, echo_handler);
  s.stop();
  s.stop();
}

}  // namespace
}  // namespace pbft::http
