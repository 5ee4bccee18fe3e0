/* Every size and count limit of the server, in one place.
 *
 * A limit that a peer can run into is part of the protocol (docs/PROTOCOL.md
 * and the README list them); changing one here changes it everywhere.
 * "Characters" are code points; "bytes" are bytes of UTF-8.  The *_MAX
 * buffer sizes marked "with the NUL" are array sizes, one more than the
 * longest string they hold. */
#ifndef CHAT_CORE_LIMITS_H
#define CHAT_CORE_LIMITS_H

/* ---- text a user types ------------------------------------------------- */

/* A chat message or direct message, after trimming: 1 to 4000 characters. */
#define CHAT_TEXT_MAX_CHARS 4000
/* Usernames: 3 to 32 characters, where a wide East Asian character counts as
 * two towards the minimum (so 张三 is long enough). */
#define CHAT_USERNAME_MIN_WIDTH 3
#define CHAT_USERNAME_MAX_CHARS 32
/* Display names: 1 to 32 characters (code points, NFC), any script. */
#define CHAT_DISPLAY_NAME_MAX_CHARS 32
/* Passwords: 8 to 128 bytes. */
#define CHAT_PASSWORD_MIN_BYTES 8
#define CHAT_PASSWORD_MAX_BYTES 128
/* E-mail addresses: at most 254 bytes (RFC 5321's path limit). */
#define CHAT_EMAIL_MAX_BYTES 254
/* Room names: 1 to 64 characters; topics at most 1000 bytes. */
#define CHAT_ROOM_NAME_MAX_CHARS 64
#define CHAT_TOPIC_MAX_BYTES 1000

/* Buffer sizes for the strings above (bytes). */
#define CHAT_NAME_MAX 128    /* bytes: 32 characters of up to 4 bytes each */
#define CHAT_DISPLAY_NAME_MAX 132 /* bytes: 32 characters of up to 4 bytes, NUL */
#define CHAT_EMAIL_MAX 256   /* bytes, including the NUL */
#define CHAT_PHONE_MAX 17    /* bytes: "+" and at most 15 digits (E.164), NUL */
#define CHAT_TOPIC_MAX 1024  /* bytes, including the NUL */
#define CHAT_CID_MAX 128     /* bytes of a client message id, including NUL */

/* ---- HTTP ---------------------------------------------------------------- */

/* Request line plus headers, the number of header lines, and a body. */
#define CHAT_HTTP_MAX_HEADER (16 * 1024)
#define CHAT_HTTP_MAX_HEADERS 64
#define CHAT_HTTP_MAX_BODY (1024 * 1024)
/* Chunk extensions (";name=value" after a chunk size), all the chunks of one
 * request together: nothing uses them, and they count against no other
 * limit. */
#define CHAT_HTTP_MAX_CHUNK_EXT 256
/* Default for chat_config_t.http_out_cap: answers queued on one connection
 * before its next pipelined request is read (reading resumes below half). */
#define CHAT_HTTP_OUT_CAP (256 * 1024)
/* The body of a login or a registration (parsed on the loop); larger: 413. */
#define CHAT_AUTH_BODY_MAX 4096
/* The largest static file served. */
#define CHAT_STATIC_MAX (8 * 1024 * 1024)
/* A decoded {name} path parameter, with the NUL. */
#define CHAT_ROUTE_NAME_MAX 400

/* ---- WebSocket ----------------------------------------------------------- */

/* Default for chat_config_t.ws_max_message: a whole message (all its
 * fragments); a longer one closes the connection with 1009. */
#define CHAT_WS_MAX_MESSAGE (64 * 1024)
/* Default for chat_config_t.ws_out_cap: bytes queued and in flight to one
 * connection; past it the connection is closed with 1013. */
#define CHAT_WS_OUT_CAP (4 * 1024 * 1024)
/* Default for chat_config_t.ws_pace_max_ms (pacer.h).  It must exceed the
 * time a busy loop takes to write every connection once (500 WebSockets at
 * about 10 µs a write here): with less, every connection is due again by
 * the end of each turn and the turns grow long (bench/README.md). */
#define CHAT_WS_PACE_MAX_MS 16.0

/* Defaults for chat_config_t.ws_ping_interval_s (a WebSocket silent this
 * long is pinged, twice this long is a dead peer) and .shutdown_drain_s
 * (how long a stop waits for connections to close). */
#define CHAT_WS_PING_INTERVAL_S 30
#define CHAT_SHUTDOWN_DRAIN_S 5
/* A control frame's payload (RFC 6455). */
#define CHAT_WS_CONTROL_MAX 125
/* Defaults for flood control, per user over all its WebSockets: frames a
 * second and the burst. */
#define CHAT_WS_RATE 20
#define CHAT_WS_BURST 200

/* ---- history ------------------------------------------------------------- */

/* Messages a room keeps in memory (and in Redis's room:ID:recent). */
#define CHAT_RECENT_MAX 100
/* `joined` history: without `since` the newest 50; with `since` at most the
 * newest 200 after it. */
#define CHAT_JOIN_HISTORY 50
#define CHAT_JOIN_SINCE_MAX 200
/* GET .../messages?limit=N: default and maximum. */
#define CHAT_PAGE_DEFAULT 50
#define CHAT_PAGE_MAX 200
/* GET /api/users?q=: people found by a name prefix. */
#define CHAT_USER_SEARCH_MAX 20
/* Search results. */
#define CHAT_SEARCH_MAX 50
/* Distinct @mentions of one message looked up for mail. */
#define CHAT_MENTIONS_MAX 5

/* ---- abuse limits (defaults of chat_config_t; see actors/limiter.h) ------ */

/* Registrations per address: 10 an hour. */
#define CHAT_REGISTER_LIMIT 10
#define CHAT_REGISTER_PERIOD_S 3600
/* Failed logins per address, over all accounts: 30 in 10 minutes. */
#define CHAT_LOGIN_IP_LIMIT 30
#define CHAT_LOGIN_IP_PERIOD_S 600
/* Failed logins per account, from anywhere: 5 free, then a delay of 1 s
 * doubled at each failure up to 60 s. */
#define CHAT_LOGIN_FREE_FAILS 5
#define CHAT_LOGIN_DELAY_S 1
#define CHAT_LOGIN_DELAY_MAX_S 60
/* Open connections in all and per address. */
#define CHAT_MAX_CONNS 10000
#define CHAT_MAX_CONNS_IP 256
/* WebSockets per user (on one instance). */
#define CHAT_MAX_WS_USER 20
/* Password hashing: threads, and hashes waiting or running at most. */
#define CHAT_HASH_THREADS 1
#define CHAT_HASH_QUEUE 64

/* files: defaults of chat_config_t.file_max and file_quota. */
#define CHAT_FILE_MAX_DEFAULT (10u * 1024 * 1024)
#define CHAT_FILE_QUOTA_DEFAULT (200u * 1024 * 1024)

#endif
