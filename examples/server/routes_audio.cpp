// Audio streaming: /api/v1/tracks/<id>/audio and the seed's /audio/<file>. Only indexed
// files are served: the file is found from the track's filename in the database, below the
// library's audio root, never from a path in the request. The real path (symlinks resolved)
// must lie below the real root. Single byte ranges are answered with 206 (a request with
// several ranges gets the whole file, 200, as RFC 9110 allows); an unsatisfiable range 416.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "errors.hpp"
#include "params.hpp"
#include "views.hpp"

namespace tagmap::server {

namespace {

namespace fs = std::filesystem;

std::string content_type_of(const std::string& filename) {
    std::string ext = fs::path(filename).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    static const std::pair<const char*, const char*> types[] = {
        {".mp3", "audio/mpeg"},     {".wav", "audio/wav"},   {".wave", "audio/wav"},
        {".ogg", "audio/ogg"},      {".oga", "audio/ogg"},   {".opus", "audio/ogg"},
        {".flac", "audio/flac"},    {".m4a", "audio/mp4"},   {".mp4", "audio/mp4"},
        {".aac", "audio/aac"},      {".aif", "audio/aiff"},  {".aiff", "audio/aiff"},
        {".wma", "audio/x-ms-wma"}, {".webm", "audio/webm"}, {".mka", "audio/x-matroska"}};
    for (const auto& [e, type] : types)
        if (ext == e) return type;
    return "application/octet-stream";
}

/// true if `p` (canonical) is `root` (canonical) or below it, component by component.
bool is_below(const fs::path& p, const fs::path& root) {
    auto r = root.begin();
    auto q = p.begin();
    for (; r != root.end(); ++r, ++q)
        if (q == p.end() || *q != *r) return false;
    return true;
}

/// The real path of an indexed track's file, checked to lie below the library root.
fs::path resolve(store::Library& lib, const store::TrackRecord& t) {
    if (t.vanished_at) throw HttpError(404, "the file of this track has vanished");
    const auto root = lib.audio_root();
    if (!root) throw HttpError(404, "the library has no audio folder");
    std::error_code ec;
    const fs::path real_root = fs::canonical(*root, ec);
    if (ec) throw HttpError(404, "the library's audio folder is not available");
    const fs::path rel(t.filename);
    // The indexer stores relative '/'-separated names; anything else is refused.
    bool bad = rel.empty() || rel.is_absolute() || rel.has_root_name();
    for (const auto& part : rel)
        if (part == ".." || part == ".") bad = true;
    if (bad) throw HttpError(403, "the file is outside the library's audio folder");
    const fs::path real = fs::canonical(real_root / rel, ec);
    if (ec) throw HttpError(404, "the file of this track is missing");
    if (!is_below(real, real_root))
        throw HttpError(403, "the file is outside the library's audio folder");
    return real;
}

struct ByteRange {
    std::uint64_t first = 0, length = 0;
};

/// The one range of a Range header, or nullopt to send the whole file (no header, several
/// ranges). Throws a 416 HttpError if the range cannot be satisfied or is malformed.
std::optional<ByteRange> parse_range(const std::string& header, std::uint64_t size) {
    if (header.empty()) return std::nullopt;
    auto unsatisfiable = [] { return HttpError(416, "the requested range is not satisfiable"); };
    const std::string prefix = "bytes=";
    if (header.compare(0, prefix.size(), prefix) != 0) throw unsatisfiable();
    std::string spec = header.substr(prefix.size());
    spec.erase(std::remove_if(spec.begin(), spec.end(),
                              [](unsigned char c) { return c == ' ' || c == '\t'; }),
               spec.end());
    if (spec.find(',') != std::string::npos) return std::nullopt;  // several: whole file
    const auto dash = spec.find('-');
    if (dash == std::string::npos) throw unsatisfiable();
    auto number = [&](const std::string& s) -> std::optional<std::uint64_t> {
        if (s.empty()) return std::nullopt;
        if (s.size() > 19 ||
            !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
            throw unsatisfiable();
        return std::stoull(s);
    };
    const auto a = number(spec.substr(0, dash));
    const auto b = number(spec.substr(dash + 1));
    ByteRange r;
    if (!a) {  // suffix: the last b bytes
        if (!b || *b == 0 || size == 0) throw unsatisfiable();
        r.length = std::min(*b, size);
        r.first = size - r.length;
        return r;
    }
    if (*a >= size || (b && *b < *a)) throw unsatisfiable();
    r.first = *a;
    r.length = (b ? std::min(*b, size - 1) : size - 1) - *a + 1;
    return r;
}

struct OpenFile {
    int fd = -1;
    ~OpenFile() {
        if (fd >= 0) ::close(fd);
    }
};

void send_file(const httplib::Request& req, httplib::Response& res, const fs::path& real,
               const std::string& filename) {
    auto file = std::make_shared<OpenFile>();
    // O_NOFOLLOW: the canonical path has no symlink left; refuse one swapped in since.
    file->fd = ::open(real.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (file->fd < 0 || ::fstat(file->fd, &st) != 0 || !S_ISREG(st.st_mode))
        throw HttpError(404, "the file of this track cannot be read");
    const auto size = std::uint64_t(st.st_size);
    res.set_header("Accept-Ranges", "bytes");
    const auto type = content_type_of(filename);
    std::optional<ByteRange> range;
    try {
        range = parse_range(req.get_header_value("Range"), size);
    } catch (const HttpError&) {
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        throw;
    }
    ByteRange r{0, size};
    if (range) {
        r = *range;
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(r.first) + "-" +
                                            std::to_string(r.first + r.length - 1) + "/" +
                                            std::to_string(size));
    } else {
        res.status = 200;
    }
    if (r.length == 0) {  // an empty file (httplib's providers need a length > 0)
        res.set_content("", type);
        return;
    }
    res.set_content_provider(
        std::size_t(r.length), type,
        [file, r](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
            char buf[64 * 1024];
            const auto n =
                ::pread(file->fd, buf, std::min(length, sizeof buf), off_t(r.first + offset));
            if (n <= 0) return false;  // the file shrank or failed: drop the connection
            return sink.write(buf, std::size_t(n));
        });
}

}  // namespace

void add_audio_routes(Router& router, Context& ctx) {
    router.get("/api/v1/tracks/([^/]+)/audio",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch& m) {
                   const auto id = parse_track_id(m[1]);
                   fs::path real;
                   std::string filename;
                   {
                       auto lib = ctx.pool.lease();
                       const auto t = lib->track(id);
                       if (!t) throw HttpError(404, "no track with id " + std::to_string(id));
                       real = resolve(*lib, *t);
                       filename = t->filename;
                   }
                   send_file(req, res, real, filename);
               });
    // The seed's route: <file> is the indexed filename (decoded); nothing else is served.
    router.get("/audio/(.+)",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch& m) {
                   fs::path real;
                   std::string filename = m[1];
                   {
                       auto lib = ctx.pool.lease();
                       const auto t = lib->track_by_filename(filename);
                       if (!t) throw HttpError(404, "no indexed audio file by that name");
                       real = resolve(*lib, *t);
                   }
                   send_file(req, res, real, filename);
               });
}

}  // namespace tagmap::server
