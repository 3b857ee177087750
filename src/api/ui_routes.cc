// The web UI: its compiled-in files under /ui/, and / sending browsers there. The files hold no
// data; the pages read everything through /v1 with the user's key.
#include <string>

#include "api/route_kit.h"
#include "api/ui_assets.h"
#include "common/strings.h"

namespace sluice::api {

namespace asio = boost::asio;

namespace {

std::string ContentTypeOf(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

asio::awaitable<Response> ServeAsset(Request request) {
  std::string name = request.params.contains("file") ? request.params.at("file") : "index.html";
  for (const UiAsset& asset : UiAssets()) {
    if (asset.name != name) continue;
    co_return Response{
        .content_type = ContentTypeOf(name),
        .body = std::string(asset.body),
        .headers = {{"Cache-Control", "no-cache"},
                    {"X-Content-Type-Options", "nosniff"},
                    {"X-Frame-Options", "DENY"},
                    // Only this server's scripts, pictures and media; inline style attributes
                    // place timeline spans.
                    {"Content-Security-Policy",
                     "default-src 'self'; img-src 'self' blob: data:; media-src 'self'; "
                     "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"}}};
  }
  co_return Problem(404, "Not found", StrCat("the UI has no file '", name, "'"));
}

}  // namespace

void AddUiRoutes(Router& router) {
  router.Add("GET", "/", [](Request) -> asio::awaitable<Response> {
    co_return Response{.status = 302, .content_type = "", .headers = {{"Location", "/ui/"}}};
  });
  router.Add("GET", "/ui/", ServeAsset);
  router.Add("GET", "/ui/{file}", ServeAsset);
}

}  // namespace sluice::api
