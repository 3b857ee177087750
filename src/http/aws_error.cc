#include "http/aws_error.h"

#include <pugixml.hpp>

#include "common/strings.h"

namespace sluice::http {

AwsError ParseAwsError(const ClientResponse& response, std::string_view what) {
  AwsError error;
  pugi::xml_document doc;
  if (doc.load_buffer(response.body.data(), response.body.size())) {
    pugi::xml_node node = doc.child("Error");
    if (!node) node = doc.child("ErrorResponse").child("Error");
    error.code = node.child_value("Code");
    error.message = node.child_value("Message");
  }
  error.text = StrCat(what, ": HTTP ", response.status, error.code.empty() ? "" : " ", error.code,
                      error.message.empty() ? "" : ": ", error.message);
  return error;
}

}  // namespace sluice::http
