#include "net/frame.h"

#include <gtest/gtest.h>

namespace kiseki::net {

namespace {

FrameHeader request(uint16_t op, uint64_t id) {
  FrameHeader h;
  h.opcode = op;
  h.request_id = id;
  h.deadline_ms = 1500;
  return h;
}

}  // namespace

TEST(Frame, RoundTripsThroughTheReaderByteByByte) {
  std::string stream = encode_frame(request(7, 42), "payload one") + encode_frame(request(8, 43), "") +
                       encode_response(request(9, 44), Status(ErrorCode::kNotFound, "no such name"));
  FrameReader r;
  for (char c : stream) ASSERT_TRUE(r.feed(std::string_view(&c, 1)).is_ok());
  std::vector<Frame> frames;
  std::vector<std::string> records;
  while (auto rec = r.next()) records.push_back(std::move(*rec));
  ASSERT_EQ(records.size(), 3u);
  for (const auto& rec : records) {
    Frame f;
    ASSERT_TRUE(parse_frame(rec, &f).is_ok());
    frames.push_back(f);
  }
  EXPECT_EQ(frames[0].header.opcode, 7);
  EXPECT_EQ(frames[0].header.request_id, 42u);
  EXPECT_EQ(frames[0].header.deadline_ms, 1500u);
  EXPECT_EQ(frames[0].payload, "payload one");
  EXPECT_FALSE(frames[0].header.response());
  EXPECT_EQ(frames[1].payload, "");
  EXPECT_TRUE(frames[2].header.response());
  EXPECT_EQ(frames[2].header.request_id, 44u);
  EXPECT_EQ(frames[2].header.status, static_cast<uint32_t>(ErrorCode::kNotFound));
  EXPECT_EQ(frames[2].payload, "no such name");
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(Frame, AFlippedBitIsACorruptionWithTheHeaderStillKnown) {
  std::string f = encode_frame(request(3, 99), "some bytes to protect");
  for (size_t pos : {size_t{40}, size_t{28}, size_t{17}}) {  // payload, CRC field, status field
    std::string bad = f;
    bad[pos] ^= 0x10;
    Frame out;
    Status st = parse_frame(bad, &out);
    EXPECT_EQ(st.code(), ErrorCode::kCorruption) << pos;
    EXPECT_EQ(out.header.request_id, 99u) << "the request can still be answered";
  }
}

TEST(Frame, BadMagicVersionOrLengthStopTheStream) {
  std::string good = encode_frame(request(1, 1), "x");
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  std::string bad_version = good;
  bad_version[4] = 9;
  for (const auto& bytes : {bad_magic, bad_version, std::string(32, '\xff'), std::string("GET / HTTP/1.1\r\n")}) {
    FrameReader r;
    EXPECT_FALSE(r.feed(bytes).is_ok());
  }
  // A length over the cap is refused from the header alone, before any payload.
  FrameReader small(1024);
  FrameHeader h = request(1, 2);
  std::string big = encode_frame(h, std::string(2048, 'a'));
  Status st = small.feed(std::string_view(big).substr(0, kFrameHeaderBytes));
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.message().find("over the cap"), std::string::npos);
}

}  // namespace kiseki::net
