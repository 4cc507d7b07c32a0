#include "common/config.h"

#include <gtest/gtest.h>

namespace kiseki {

TEST(Config, LayersFileThenEnvThenFlags) {
  Config c;
  ASSERT_TRUE(c.load_toml_string("durability = \"group\"\ns3_listen = \"127.0.0.1:1\"\n"
                                 "[chunk]\nmax_size = \"1MiB\"\n").is_ok());
  EXPECT_EQ(c.get_string("durability", "sync"), "group");
  EXPECT_EQ(*c.get_size("chunk_max_size", 0), 1u << 20);
  char e1[] = "KISEKI_S3_LISTEN=127.0.0.1:2";
  char e2[] = "OTHER=1";
  char* env[] = {e1, e2, nullptr};
  c.load_env(env);
  EXPECT_EQ(c.get_string("s3_listen", ""), "127.0.0.1:2");
  EXPECT_FALSE(c.has("other"));
  c.set("s3_listen", "127.0.0.1:3");
  EXPECT_EQ(c.get_string("s3_listen", ""), "127.0.0.1:3");
}

TEST(Config, BadValuesAreErrors) {
  Config c;
  EXPECT_EQ(c.load_toml_string("x = [").code(), ErrorCode::kInvalidArgument);
  c.set("n", "12x");
  EXPECT_EQ(c.get_int("n", 0).code(), ErrorCode::kInvalidArgument);
  c.set("b", "maybe");
  EXPECT_EQ(c.get_bool("b", false).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(*c.get_int("missing", 42), 42);
}

TEST(Config, Sizes) {
  EXPECT_EQ(*parse_size("64KiB"), 65536u);
  EXPECT_EQ(*parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(*parse_size("512"), 512u);
  EXPECT_FALSE(parse_size("12PB").is_ok());
  EXPECT_FALSE(parse_size("KiB").is_ok());
  EXPECT_FALSE(parse_size("99999999999999999999GiB").is_ok());
}

}  // namespace kiseki
