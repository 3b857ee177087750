#include "queue/intake/url_list.h"

#include <gtest/gtest.h>

#include <sstream>

namespace sluice::intake {
namespace {

Result<UrlList> Read(const std::string& text) {
  std::istringstream in(text);
  return ReadUrlList(in);
}

using Urls = std::vector<std::string>;

TEST(UrlListTest, PlainSkipsBlankAndCommentsAndDuplicates) {
  Result<UrlList> list =
      Read("# brand A\n\nhttp://a/1.jpg\r\n  http://a/2.jpg  \nhttp://a/1.jpg\n#x\n");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->format, ListFormat::kPlain);
  EXPECT_EQ(list->urls, (Urls{"http://a/1.jpg", "http://a/2.jpg"}));
  EXPECT_EQ(list->duplicates, 1u);
}

TEST(UrlListTest, CsvWithUrlColumnAndQuoting) {
  Result<UrlList> list =
      Read("id,URL,caption\n1,http://a/1.jpg,hi\n2,\"http://a/2.jpg?x=1,2\",\"say \"\"hi\"\"\"\n");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->format, ListFormat::kCsv);
  EXPECT_EQ(list->urls, (Urls{"http://a/1.jpg", "http://a/2.jpg?x=1,2"}));
  EXPECT_FALSE(Read("id,url\n1\n").ok());
}

TEST(UrlListTest, JsonlWithUrlMember) {
  Result<UrlList> list =
      Read("{\"url\": \"http://a/1.jpg\", \"brand\": \"x\"}\n{\"url\":\"http://a/2.jpg\"}\n");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->format, ListFormat::kJsonl);
  EXPECT_EQ(list->urls, (Urls{"http://a/1.jpg", "http://a/2.jpg"}));
  Result<UrlList> bad = Read("{\"url\": \"http://a/1.jpg\"}\n{\"link\": 3}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status();
  EXPECT_FALSE(Read("{not json\n").ok());
}

TEST(UrlListTest, MissingFileIsUnreadableList) {
  Result<UrlList> list = ReadUrlListFile("/nonexistent/urls.txt");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(CauseOf(list.status()), "unreadable_list");
}

}  // namespace
}  // namespace sluice::intake
