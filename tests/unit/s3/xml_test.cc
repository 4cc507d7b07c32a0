#include "protocols/s3/xml.h"

#include <gtest/gtest.h>

namespace kiseki::s3 {

TEST(Xml, WhatXml10CannotCarry) {
  EXPECT_TRUE(xml_representable("plain/key with spaces & <markup>"));
  EXPECT_TRUE(xml_representable("tab\tnewline\ncr\r"));
  EXPECT_TRUE(xml_representable("caf\xc3\xa9 \xf0\x9f\x93\xb7"));
  EXPECT_FALSE(xml_representable("bell\x07"));
  EXPECT_FALSE(xml_representable(std::string("nul\0", 4)));
  EXPECT_FALSE(xml_representable("nonchar\xef\xbf\xbe"));
  EXPECT_FALSE(xml_representable("nonchar\xef\xbf\xbf"));
  EXPECT_EQ(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
}

}  // namespace kiseki::s3
