// POST /api/v1/tracks (multipart field "file"): an audio file dropped on the map page is
// checked (size, audio extension, a header the decoders read), saved below the library's
// folder in uploads/ under a safe unique name, and queued for indexing, embedding and
// placement (UploadJobs); 202 {"job": id}. GET /api/v1/jobs/<id> reports its progress.
#include <unistd.h>

#include <cctype>
#include <fstream>

#include <tagmap/audio/decode.hpp>

#include "audio_files.hpp"
#include "errors.hpp"
#include "upload_jobs.hpp"
#include "views.hpp"

namespace tagmap::server {

namespace {

/// The base name of a client's file name, reduced to letters, digits, '.', '-', '_' and
/// spaces (anything else becomes '_'); never empty, never hidden, never a path.
std::string safe_name(const std::string& client_name) {
    std::string base = client_name;
    if (const auto slash = base.find_last_of("/\\"); slash != std::string::npos)
        base = base.substr(slash + 1);
    std::string out;
    for (unsigned char c : base)
        out += (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ' ') ? char(c) : '_';
    while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
    if (out.size() > 120) out = out.substr(out.size() - 120);
    return out.empty() ? "upload" : out;
}

nlohmann::json status_json(const UploadStatus& s) {
    nlohmann::json j = {{"job", s.id},     {"status", s.state},     {"stage", s.stage},
                        {"progress", s.progress}, {"filename", s.filename}};
    j["track_id"] = s.track_id ? nlohmann::json(*s.track_id) : nlohmann::json(nullptr);
    if (s.state == "failed") {
        j["error"] = "processing_failed";
        j["detail"] = s.error;
    }
    return j;
}

void upload(Context& ctx, UploadJobs& jobs, std::size_t max_bytes, const httplib::Request& req,
            httplib::Response& res) {
    if (!req.is_multipart_form_data() || !req.has_file("file"))
        throw HttpError(400, "send the audio file as multipart/form-data field 'file'");
    const auto file = req.get_file_value("file");
    if (file.content.empty()) throw HttpError(400, "the uploaded file is empty");
    if (file.content.size() > max_bytes)
        throw HttpError(413, "the file is larger than the server accepts (" +
                                 std::to_string(max_bytes >> 20) + " MB)");
    const std::string name = safe_name(file.filename);
    if (!store::is_audio_extension(name))
        throw HttpError(415, "not an audio file type (.wav, .flac, .ogg, .opus, .mp3, .m4a, ...)");
    std::filesystem::path root;
    {
        auto lib = ctx.pool.lease();
        const auto r = lib->audio_root();
        if (!r) throw HttpError(409, "the library has no audio folder");
        root = *r;
    }
    const auto folder = root / "uploads";
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec)
        throw HttpError(503, "the library's folder does not accept uploads (read-only?)");
    const auto partial = folder / (".partial-" + std::to_string(::getpid()) + "-" + name);
    {
        std::ofstream out(partial, std::ios::binary);
        out.write(file.content.data(), std::streamsize(file.content.size()));
        out.close();
        if (!out) {
            std::filesystem::remove(partial, ec);
            throw HttpError(503, "the upload could not be stored (disk full?)");
        }
    }
    try {
        audio::AudioFileReader probe(partial);  // the header must decode
    } catch (const std::exception&) {
        std::filesystem::remove(partial, ec);
        throw HttpError(415, "the file is not audio that tagmap can decode");
    }
    // A unique final name: name.ext, name-1.ext, ...
    const auto stem = std::filesystem::path(name).stem().string();
    const auto ext = std::filesystem::path(name).extension().string();
    std::filesystem::path final_path = folder / name;
    for (int i = 1; std::filesystem::exists(final_path, ec); ++i)
        final_path = folder / (stem + "-" + std::to_string(i) + ext);
    std::filesystem::rename(partial, final_path, ec);
    if (ec) {
        std::filesystem::remove(partial, ec);
        throw HttpError(503, "the upload could not be stored");
    }
    const auto relative = "uploads/" + final_path.filename().string();
    const auto id = jobs.submit(relative);
    send_json(res, status_json(*jobs.status(id)), 202);
}

}  // namespace

void add_upload_routes(httplib::Server& http, Router& router, Context& ctx, UploadJobs& jobs,
                       std::size_t max_bytes) {
    http.Post("/api/v1/tracks", [&ctx, &jobs, max_bytes](const httplib::Request& req,
                                                        httplib::Response& res) {
        try {
            upload(ctx, jobs, max_bytes, req, res);
        } catch (...) {
            send_current_exception(res);
        }
    });
    router.get("/api/v1/jobs/([^/]+)", [&jobs](const httplib::Request&, httplib::Response& res,
                                               const std::smatch& m) {
        const auto s = jobs.status(m[1]);
        if (!s) throw HttpError(404, "no upload job " + std::string(m[1]));
        send_json(res, status_json(*s));
    });
}

}  // namespace tagmap::server
