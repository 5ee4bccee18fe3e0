/* The SQLite backend's full-text search (schema/sqlite/012_fts.sql): the
 * FTS5 tokenizer "chat" and the MATCH expressions of a search.
 *
 * Two FTS5 tables, search_room (rowid = messages.id) and search_dm (rowid =
 * direct_messages.id), each with the columns body (the message text) and
 * tag (who may see it), contentless (content=''), detail=none, no column
 * sizes: the index holds, per token, the list of message ids and nothing
 * else.  The text check of store.c confirms every candidate, so positions
 * are not needed.
 *
 * Tokens (tokenizer "chat", document side): the body's unigrams and
 * bigrams of code points with ASCII folded, exactly those of
 * chat_tokens_each (tokens.h).  The tag column is "\x01r<room id>" for a
 * room message and "\x01u<sender id> \x01u<receiver id>" for a direct
 * message; a text of exactly that form gives each "\x01..." word as one
 * token (three or more code points, so no body token is ever one).  A
 * body of exactly that form (a message made of control characters and
 * digits) gives such tokens too; that only adds candidates, which the
 * SQL filters of the search statements drop.
 *
 * Query side: chat_sqlite_fts_expr builds the expression from the user's
 * query; each token is a quoted FTS5 string, and in query mode the
 * tokenizer gives a quoted string back as one token (ASCII folded), so
 * nothing of the user's text is ever read as FTS5 syntax.
 *
 * Contentless tables delete a row only with the values it was indexed
 * with ('delete' command), and deleting a row that is not there would
 * corrupt the index.  Invariant kept by every writer (sqlite_search.c,
 * sqlite_ops.c, extras.c through reindex): a message has exactly one row,
 * indexed with its current text and its tag, if its id is at or below its
 * kind's cursor and its text is not empty (a tombstone's is), else none.
 * A change of text deletes the row with the old text before the text
 * changes and inserts the new one. */
#ifndef CHAT_STORE_SQLITE_FTS_H
#define CHAT_STORE_SQLITE_FTS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sb.h"

/* Registers the tokenizer "chat" on db (through fts5_api, obtained with
 * SELECT fts5(?1)).  Every connection that reads or writes the search
 * tables needs it, migrations included.  SQLITE_OK, or an SQLite error
 * code (SQLITE_ERROR when this SQLite lacks FTS5). */
int chat_sqlite_fts_register(sqlite3 *db);

/* Writes to sb the MATCH expression of query q[0..qlen) (trimmed, not
 * empty): the query's tokens (chat_tokens_query, at most
 * CHAT_QUERY_TOKENS_MAX) joined by AND, then the filter: for a room search
 * (dm 0) the tag of room_id unless it is 0, and NOT the tags of the
 * nhide rooms of hide (when there are at most 64; store.c drops their
 * messages anyway); for a direct message search (dm 1) the tag of user_id.
 * Returns the number of query tokens (0: q has none, sb is left empty). */
int chat_sqlite_fts_expr(chat_sb_t *sb, const char *q, size_t qlen, int dm,
                         int64_t room_id, int64_t user_id,
                         const int64_t *hide, size_t nhide);

#endif
