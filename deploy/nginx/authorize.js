// The gateway's njs handler (njs >= 0.7: async/await, r.requestBuffer, TextDecoder, js_var).
//
// For each request to /api/: read the method, the path, the query string exactly as sent, the exact
// body, the client address and the API-key header; POST them as JSON to the internal location
// /_authorize (which proxies to the onboarding service's POST /api/v1/authorize with the service
// token); on {"allowed": true} hand the original request (method, path, query, body) to @trading with
// the caller's identity in $gw_* variables; otherwise answer 401/403 with the reason. Any trouble with
// the authorize call (down, timeout, non-200, unreadable answer) answers 503: the gateway fails closed.

// Refusals meaning "we cannot tell who you are / this request is not authentic" (401); every other
// reason, and any reason this file does not know, means "not permitted" (403).
const UNAUTHENTICATED = {
    malformed_key: true, unknown_key: true, bad_signature: true, stale_timestamp: true, replayed: true,
};

const MESSAGES = {
    malformed_key: "API key missing or malformed",
    unknown_key: "Unknown API key",
    bad_signature: "Signature for this request is not valid",
    stale_timestamp: "Timestamp for this request is outside of the recvWindow",
    replayed: "This signed request was already received",
    key_revoked: "This API key has been revoked",
    key_expired: "This API key has expired",
    key_frozen: "This API key is frozen",
    institution_frozen: "API access for this institution is frozen",
    institution_restricted: "API access for this institution is restricted",
    rules_not_agreed: "The API trading rules have not been agreed",
    ip_not_allowed: "Requests from this IP address are not allowed for this API key",
    scope_not_granted: "This API key has no permission for this endpoint",
};

// Header values we pass on to the trading upstream: printable ASCII, no spaces, bounded.
const TOKEN_RE = /^[\x21-\x7e]{1,128}$/;

function reply(r, status, payload) {
    r.headersOut["Content-Type"] = "application/json";
    r.headersOut["Cache-Control"] = "no-store";
    if (payload.decision_id) {
        r.headersOut["X-Authorize-Decision"] = payload.decision_id;
    }
    r.return(status, JSON.stringify(payload));
}

function unavailable(r, why) {
    r.error("authorize unavailable, request refused (fail closed): " + why);
    r.variables.gw_refusal = "authorize_unavailable";
    reply(r, 503, {
        code: "authorize_unavailable",
        msg: "The request could not be authorized right now; it was not forwarded. Try again.",
    });
}

function refuse(r, status, code, msg, decisionId) {
    r.variables.gw_refusal = code;
    reply(r, status, { code: code, msg: msg, decision_id: decisionId || null });
}

// The path exactly as sent (the request target up to "?").
function rawPath(r) {
    const target = r.variables.request_uri || "";
    const q = target.indexOf("?");
    return q === -1 ? target : target.substring(0, q);
}

// Every value of the key header, whatever its case (duplicates are refused, not guessed at).
function headerValues(r, name) {
    const lower = name.toLowerCase();
    const values = [];
    const raw = r.rawHeadersIn;
    for (let i = 0; i < raw.length; i++) {
        if (raw[i][0].toLowerCase() === lower) {
            values.push(raw[i][1]);
        }
    }
    return values;
}

function asToken(value) {
    const text = value === undefined || value === null ? "" : String(value);
    return TOKEN_RE.test(text) ? text : null;
}

async function handle(r) {
    const keyHeader = r.variables.gw_key_header || "X-MEXC-APIKEY";

    // The path authorize judges must be the path the upstream receives. A path that nginx had to
    // decode or normalise (%XX, "//", "/./", "/../") could be read differently by the two, so it is
    // refused: real trading clients send plain paths.
    const path = rawPath(r);
    if (path !== r.uri) {
        return refuse(r, 400, "malformed_path", "The request path must be sent without encoding or dot segments");
    }

    const keys = headerValues(r, keyHeader);
    if (keys.length !== 1 || keys[0] === "") {
        return refuse(r, 401, "malformed_key",
                      keys.length > 1 ? "Send the " + keyHeader + " header once" : "The " + keyHeader + " header is missing");
    }

    // The exact body: it is in memory (client_body_buffer_size >= client_max_body_size, single buffer).
    let body = "";
    let bytes;
    try {
        bytes = r.requestBuffer;
    } catch (e) {
        return refuse(r, 413, "body_too_large", "The request body is too large");
    }
    if (bytes !== undefined && bytes.length > 0) {
        try {
            body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        } catch (e) {
            // The signature covers the raw bytes; a JSON string cannot carry bytes that are not UTF-8.
            return refuse(r, 400, "malformed_body", "The request body must be UTF-8 text");
        }
    } else if (r.headersIn["Content-Length"] && r.headersIn["Content-Length"] !== "0") {
        return unavailable(r, "request body not in memory");
    }

    const headers = {};
    headers[keyHeader] = keys[0];
    const question = {
        method: r.method,
        path: path,
        query: r.variables.args || "",
        body: body,
        headers: headers,
        client_ip: r.variables.remote_addr,
    };

    let answer;
    const started = Date.now();
    try {
        answer = await r.subrequest("/_authorize", { method: "POST", body: JSON.stringify(question) });
    } catch (e) {
        return unavailable(r, "subrequest failed: " + e);
    } finally {
        r.variables.gw_authorize_ms = String(Date.now() - started);
    }
    if (answer.status !== 200) {
        return unavailable(r, "authorize answered HTTP " + answer.status);
    }
    let decision;
    try {
        decision = JSON.parse(answer.responseText);
    } catch (e) {
        return unavailable(r, "authorize answer is not JSON");
    }
    if (decision === null || typeof decision !== "object" || typeof decision.allowed !== "boolean") {
        return unavailable(r, "authorize answer has no boolean 'allowed'");
    }
    const decisionId = asToken(decision.decision_id);
    if (decisionId) {
        r.variables.gw_decision_id = decisionId;
    }

    if (decision.allowed !== true) {
        const reason = asToken(decision.reason) || "refused";
        const status = UNAUTHENTICATED[reason] ? 401 : 403;
        return refuse(r, status, reason, MESSAGES[reason] || "This request is not permitted", decisionId);
    }

    const institution = decision.institution || {};
    const key = decision.key || {};
    const tier = decision.rate_tier || {};
    const institutionId = asToken(institution.id);
    const keyId = asToken(key.id);
    const tierCode = asToken(tier.code);
    if (!decisionId || !institutionId || !keyId || !tierCode) {
        return unavailable(r, "authorize allowed the request without decision_id, institution.id, key.id or rate_tier.code");
    }
    r.variables.gw_institution_id = institutionId;
    r.variables.gw_key_id = keyId;
    r.variables.gw_rate_tier = tierCode;

    // Same request (method, URI, query string, in-memory body) to the trading upstream.
    r.internalRedirect("@trading");
}

export default { handle };
