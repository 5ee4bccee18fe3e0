/* Redis presence: several chatd instances share who is online, who is in
 * which room, the newest messages of each room, and their room events.
 *
 * Keys (all written through the scripts below):
 *   online_users              hash  user id -> username, online anywhere
 *   chat:instances            set   ids of instances that have announced themselves
 *   chat:inst:ID:alive        string, expires: the instance is alive
 *   chat:inst:ID              hash  user id -> username, users connected to instance ID
 *   chat:inst:ID:rooms        set   "ROOM:UID:NAME", room memberships on instance ID
 *   chat:rooms                set   ids of rooms anybody joined
 *   room:ID:members           set   "UID:NAME", users in room ID (any instance)
 *   room:ID:recent            list  newest 100 messages of room ID as JSON, newest first
 *   room:ID:recent_ok         string: the list is complete (seeded from the store)
 * Channels (payload "SENDER\nJSON[\nJSON...]": the frames one instance
 * published in one loop turn travel together; SENDER "-" is a script, seen
 * by all):
 *   chat:global               online/offline and server-wide events
 *   chat:room:ID              frames for the members of room ID
 *
 * Every instance refreshes its keys every HEARTBEAT_MS with a TTL of
 * TTL_S; any instance then reaps the instances whose alive key expired:
 * their users go offline and leave their rooms (within TTL_S + HEARTBEAT_MS
 * of a crash), and the leaves are announced like any other.
 *
 * Queries answer from a mirror of online_users and of the rooms' members,
 * kept by pub/sub and resynchronised with every heartbeat.  Both are sets,
 * so an event seen twice changes nothing.  The heartbeat's answer and the
 * events come on two connections, in no fixed order: the events that
 * arrive while a heartbeat is out are kept and applied again on top of its
 * answer (the last event about a user wins, which is right whether the
 * answer was taken before or after it).  While Redis is down the mirror is
 * this instance's own users; when it is back the instance writes its state
 * again and resynchronises. */
#define _GNU_SOURCE  /* memmem */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../core/keytab.h"
#include "../core/limits.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "../store/redis.h"
#include "presence.h"

#define TTL_S 15
#define HEARTBEAT_MS 5000

typedef struct {
  char *name;
  size_t conns;
} luser_t;

typedef struct {
  int64_t uid;
  char *name;
} member_t;

typedef struct {
  member_t *v;
  size_t n, cap;
} lroom_t;

/* Who is in which room, on any instance: a set of "ROOM:NAME" and the
 * size of each room. */
typedef struct {
  chat_keytab_t *who;
  chat_imap_t count;          /* room -> (uintptr_t) users in it */
} rmirror_t;

/* A presence change heard while a heartbeat was out. */
typedef struct {
  int64_t id;                 /* room (room event) or user id (online event) */
  char *name;
  int room_ev, on;
} pev_t;

typedef struct {
  chat_presence_t super;
  uv_loop_t *loop;
  chat_redis_t *redis;
  char iid[17];
  int up;
  int closing;
  int finishing;              /* handles closing */
  void (*done)(void *ud);
  void *done_ud;
  uv_timer_t timer;
  uv_idle_t flush_idle;       /* sends what publish/recent_push gathered */
  chat_imap_t out_frames;     /* room (or -1: global) -> chat_sb_t*, a bus batch */
  chat_imap_t out_recent;     /* room -> chat_sb_t* of objects, NUL-separated */
  int handles;
  chat_imap_t local_users;    /* uid -> luser_t: connected here */
  chat_imap_t local_rooms;    /* room -> lroom_t: memberships here */
  chat_imap_t mirror_users;   /* uid -> char* name: online as we know it */
  rmirror_t mirror_rooms;
  int hb_out;                 /* heartbeats sent, not answered yet */
  pev_t *hb_log;              /* events heard since the oldest of them went */
  size_t hb_nlog, hb_caplog;
} rp_t;

/* ---- scripts ---------------------------------------------------------- */

/* KEYS: -; ARGV: iid, uid, name, ttl.  Returns 1 if the user came online. */
static const char S_CONNECT[] =
    "redis.call('HSET','chat:inst:'..ARGV[1],ARGV[2],ARGV[3])\n"
    "redis.call('EXPIRE','chat:inst:'..ARGV[1],ARGV[4])\n"
    "if redis.call('HSETNX','online_users',ARGV[2],ARGV[3])==1 then\n"
    "  redis.call('PUBLISH','chat:global','-\\n'..cjson.encode({type='online',id=tonumber(ARGV[2]),user=ARGV[3],online=true}))\n"
    "  return 1 end\n"
    "return 0\n";

/* ARGV: iid, uid.  Returns 1 if the user went offline everywhere. */
static const char S_DISCONNECT[] =
    "redis.call('HDEL','chat:inst:'..ARGV[1],ARGV[2])\n"
    "for _,i in ipairs(redis.call('SMEMBERS','chat:instances')) do\n"
    "  if i~=ARGV[1] and redis.call('EXISTS','chat:inst:'..i..':alive')==1 and\n"
    "     redis.call('HEXISTS','chat:inst:'..i,ARGV[2])==1 then return 0 end end\n"
    "local name=redis.call('HGET','online_users',ARGV[2])\n"
    "if name and redis.call('HDEL','online_users',ARGV[2])==1 then\n"
    "  redis.call('PUBLISH','chat:global','-\\n'..cjson.encode({type='online',id=tonumber(ARGV[2]),user=name,online=false}))\n"
    "  return 1 end\n"
    "return 0\n";

/* ARGV: iid, room, uid, name, ttl. */
static const char S_JOIN[] =
    "local m=ARGV[3]..':'..ARGV[4]\n"
    "redis.call('SADD','chat:inst:'..ARGV[1]..':rooms',ARGV[2]..':'..m)\n"
    "redis.call('EXPIRE','chat:inst:'..ARGV[1]..':rooms',ARGV[5])\n"
    "redis.call('SADD','chat:rooms',ARGV[2])\n"
    "if redis.call('SADD','room:'..ARGV[2]..':members',m)==1 then\n"
    "  redis.call('PUBLISH','chat:room:'..ARGV[2],'-\\n'..cjson.encode({type='presence',room=tonumber(ARGV[2]),user=ARGV[4],event='join'}))\n"
    "  return 1 end\n"
    "return 0\n";

/* ARGV: iid, room, uid, name. */
static const char S_LEAVE[] =
    "local m=ARGV[3]..':'..ARGV[4]\n"
    "local e=ARGV[2]..':'..m\n"
    "redis.call('SREM','chat:inst:'..ARGV[1]..':rooms',e)\n"
    "for _,i in ipairs(redis.call('SMEMBERS','chat:instances')) do\n"
    "  if i~=ARGV[1] and redis.call('EXISTS','chat:inst:'..i..':alive')==1 and\n"
    "     redis.call('SISMEMBER','chat:inst:'..i..':rooms',e)==1 then return 0 end end\n"
    "if redis.call('SREM','room:'..ARGV[2]..':members',m)==1 then\n"
    "  redis.call('PUBLISH','chat:room:'..ARGV[2],'-\\n'..cjson.encode({type='presence',room=tonumber(ARGV[2]),user=ARGV[4],event='leave'}))\n"
    "  return 1 end\n"
    "return 0\n";

/* ARGV: iid (empty: only reap), ttl.  Refreshes this instance, reaps dead
 * ones, and returns {online_users flattened, {room, {"UID:NAME", ...}, ...}}. */
static const char S_HEARTBEAT[] =
    "if ARGV[1]~='' then\n"
    "  redis.call('SET','chat:inst:'..ARGV[1]..':alive','1','EX',ARGV[2])\n"
    "  redis.call('EXPIRE','chat:inst:'..ARGV[1],ARGV[2])\n"
    "  redis.call('EXPIRE','chat:inst:'..ARGV[1]..':rooms',ARGV[2])\n"
    "  redis.call('SADD','chat:instances',ARGV[1]) end\n"
    "local live={}\n"
    "for _,i in ipairs(redis.call('SMEMBERS','chat:instances')) do\n"
    "  if redis.call('EXISTS','chat:inst:'..i..':alive')==1 then live[#live+1]=i\n"
    "  else redis.call('SREM','chat:instances',i)\n"
    "       redis.call('DEL','chat:inst:'..i,'chat:inst:'..i..':rooms') end end\n"
    "local users={}\n"
    "for _,i in ipairs(live) do\n"
    "  for _,u in ipairs(redis.call('HKEYS','chat:inst:'..i)) do users[u]=true end end\n"
    "local all=redis.call('HGETALL','online_users')\n"
    "for k=1,#all,2 do\n"
    "  if not users[all[k]] then redis.call('HDEL','online_users',all[k])\n"
    "    redis.call('PUBLISH','chat:global','-\\n'..cjson.encode({type='online',id=tonumber(all[k]),user=all[k+1],online=false})) end end\n"
    "local entries={}\n"
    "for _,i in ipairs(live) do\n"
    "  for _,e in ipairs(redis.call('SMEMBERS','chat:inst:'..i..':rooms')) do entries[e]=true end end\n"
    "local counts={}\n"
    "for _,r in ipairs(redis.call('SMEMBERS','chat:rooms')) do\n"
    "  for _,m in ipairs(redis.call('SMEMBERS','room:'..r..':members')) do\n"
    "    if not entries[r..':'..m] then redis.call('SREM','room:'..r..':members',m)\n"
    "      local name=string.match(m,'^[^:]*:(.*)$')\n"
    "      redis.call('PUBLISH','chat:room:'..r,'-\\n'..cjson.encode({type='presence',room=tonumber(r),user=name,event='leave'})) end end\n"
    "  local m=redis.call('SMEMBERS','room:'..r..':members')\n"
    "  if #m>0 then counts[#counts+1]=r counts[#counts+1]=m else redis.call('SREM','chat:rooms',r) end end\n"
    "return {redis.call('HGETALL','online_users'),counts}\n";

/* ARGV: room, max.  Returns {list or 0, members}. */
static const char S_RECENT_LOAD[] =
    "local m=redis.call('SMEMBERS','room:'..ARGV[1]..':members')\n"
    "if redis.call('EXISTS','room:'..ARGV[1]..':recent_ok')==1 then\n"
    "  return {redis.call('LRANGE','room:'..ARGV[1]..':recent',0,ARGV[2]-1),m} end\n"
    "return {0,m}\n";

/* ARGV: room.  Forgets a deleted room. */
static const char S_ROOM_FORGET[] =
    "redis.call('DEL','room:'..ARGV[1]..':recent','room:'..ARGV[1]..':recent_ok',\n"
    "           'room:'..ARGV[1]..':members')\n"
    "redis.call('SREM','chat:rooms',ARGV[1])\n"
    "return 1\n";

/* ARGV: room, max, then message objects.  Merges them with the list by id
 * and marks the list complete. */
static const char S_RECENT_SEED[] =
    "local key='room:'..ARGV[1]..':recent'\n"
    "local byid={}\n"
    "local ids={}\n"
    "local function add(s) local ok,o=pcall(cjson.decode,s)\n"
    "  if ok and type(o)=='table' and o.id and not byid[o.id] then byid[o.id]=s ids[#ids+1]=o.id end end\n"
    "for _,s in ipairs(redis.call('LRANGE',key,0,-1)) do add(s) end\n"
    "for k=3,#ARGV do add(ARGV[k]) end\n"
    "table.sort(ids,function(a,b) return a>b end)\n"
    "redis.call('DEL',key)\n"
    "for k=1,math.min(#ids,tonumber(ARGV[2])) do redis.call('RPUSH',key,byid[ids[k]]) end\n"
    "redis.call('SET','room:'..ARGV[1]..':recent_ok','1')\n"
    "return 1\n";

/* Marks every room's list as possibly incomplete (after an outage). */
static const char S_RECENT_DOUBT[] =
    "for _,r in ipairs(redis.call('SMEMBERS','chat:rooms')) do\n"
    "  redis.call('DEL','room:'..r..':recent_ok','room:'..r..':recent') end\n"
    "return 1\n";

/* ---- helpers ----------------------------------------------------------- */

static void ignore_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  if (reply && reply->type == REDIS_REPLY_ERROR)
    chat_log_warn("redis: %.*s", (int)reply->len, reply->str);
}

/* Runs a script with string arguments (no KEYS). */
static int eval(rp_t *p, const char *script, chat_redis_reply_cb cb, void *ud, int nargs,
                const char **args, const size_t *lens) {
  const char *argv[64];
  size_t argvlen[64];
  if (nargs + 3 > 64) return -1;
  argv[0] = "EVAL";
  argvlen[0] = 4;
  argv[1] = script;
  argvlen[1] = strlen(script);
  argv[2] = "0";
  argvlen[2] = 1;
  for (int i = 0; i < nargs; i++) {
    argv[3 + i] = args[i];
    argvlen[3 + i] = lens ? lens[i] : strlen(args[i]);
  }
  return chat_redis_command(p->redis, cb ? cb : ignore_reply, ud, nargs + 3, argv, argvlen);
}

static void mirror_set_user(rp_t *p, int64_t uid, const char *name, int online) {
  char *old = chat_imap_get(&p->mirror_users, uid);
  if (online && old == NULL) {
    chat_imap_put(&p->mirror_users, uid, chat_xstrdup(name));
    if (p->super.on_online) p->super.on_online(p->super.ud, uid, name, 1);
  } else if (!online && old != NULL) {
    chat_imap_del(&p->mirror_users, uid);
    if (p->super.on_online) p->super.on_online(p->super.ud, uid, old, 0);
    free(old);
  }
}

static void rm_init(rmirror_t *m) {
  m->who = chat_keytab_new(1, 0, 0);
  chat_imap_init(&m->count);
}

static void rm_free(rmirror_t *m) {
  chat_keytab_free(m->who);
  chat_imap_free(&m->count);
}

/* name is in room (in) or not; nothing if it already is so. */
static void rm_set(rmirror_t *m, int64_t room, const char *name, int in) {
  char key[24 + CHAT_NAME_MAX + 2];
  snprintf(key, sizeof(key), "%" PRId64 ":%s", room, name);
  int was = chat_keytab_get(m->who, key, 0) != NULL;
  if (was == !!in) return;
  uintptr_t n = (uintptr_t)chat_imap_get(&m->count, room);
  if (in) {
    chat_keytab_put(m->who, key, 0, NULL);
    chat_imap_put(&m->count, room, (void *)(n + 1));
  } else {
    chat_keytab_del(m->who, key);
    if (n <= 1)
      chat_imap_del(&m->count, room);
    else
      chat_imap_put(&m->count, room, (void *)(n - 1));
  }
}

/* Keeps an event for the heartbeats that are out (see the top). */
static void hb_note(rp_t *p, int room_ev, int64_t id, const char *name, int on) {
  if (p->hb_out == 0) return;
  if (p->hb_nlog == p->hb_caplog) {
    p->hb_caplog = p->hb_caplog ? p->hb_caplog * 2 : 16;
    p->hb_log = chat_xrealloc(p->hb_log, p->hb_caplog * sizeof(*p->hb_log));
  }
  p->hb_log[p->hb_nlog++] = (pev_t){id, chat_xstrdup(name ? name : ""), room_ev, on};
}

static void hb_log_clear(rp_t *p) {
  for (size_t i = 0; i < p->hb_nlog; i++) free(p->hb_log[i].name);
  p->hb_nlog = 0;
}

static void mirror_room_set(rp_t *p, int64_t room, const char *name, int in) {
  rm_set(&p->mirror_rooms, room, name, in);
  hb_note(p, 1, room, name, in);
}

/* The mirror becomes this instance's own state (Redis is down). */
static void mirror_from_local(rp_t *p) {
  for (size_t i = 0; i < p->mirror_users.cap; i++) {
    int64_t uid = p->mirror_users.slots[i].key;
    if (uid && chat_imap_get(&p->local_users, uid) == NULL) {
      char *name = p->mirror_users.slots[i].val;
      chat_imap_del(&p->mirror_users, uid);
      if (p->super.on_online) p->super.on_online(p->super.ud, uid, name, 0);
      free(name);
      i = (size_t)-1;  /* the table shifted: start over */
    }
  }
  for (size_t i = 0; i < p->local_users.cap; i++) {
    if (p->local_users.slots[i].key == 0) continue;
    luser_t *u = p->local_users.slots[i].val;
    mirror_set_user(p, p->local_users.slots[i].key, u->name, 1);
  }
  rm_free(&p->mirror_rooms);
  rm_init(&p->mirror_rooms);
  for (size_t i = 0; i < p->local_rooms.cap; i++) {
    if (p->local_rooms.slots[i].key == 0) continue;
    lroom_t *lr = p->local_rooms.slots[i].val;
    for (size_t k = 0; k < lr->n; k++)
      rm_set(&p->mirror_rooms, p->local_rooms.slots[i].key, lr->v[k].name, 1);
  }
}

/* ---- heartbeat and resync --------------------------------------------- */

/* The name in a "UID:NAME" member entry, or NULL. */
static const char *member_name(const redisReply *e) {
  if (e->type != REDIS_REPLY_STRING || e->str == NULL) return NULL;
  const char *colon = strchr(e->str, ':');
  return colon ? colon + 1 : NULL;
}

/* The heartbeat's snapshot, with the events heard since it went applied on
 * top, becomes the mirror; users online or offline anew are announced. */
static void heartbeat_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  rp_t *p = ud;
  if (p->hb_out > 0) p->hb_out--;
  if (!p->closing && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
    const redisReply *users = reply->element[0], *rooms = reply->element[1];
    chat_imap_t seen;  /* uid -> name (borrowed), online by the snapshot */
    chat_imap_init(&seen);
    for (size_t i = 0; users->type == REDIS_REPLY_ARRAY && i + 1 < users->elements; i += 2) {
      int64_t uid = strtoll(users->element[i]->str, NULL, 10);
      if (uid > 0 && users->element[i + 1]->str) chat_imap_put(&seen, uid, users->element[i + 1]->str);
    }
    rmirror_t next;
    rm_init(&next);
    for (size_t i = 0; rooms->type == REDIS_REPLY_ARRAY && i + 1 < rooms->elements; i += 2) {
      int64_t room = strtoll(rooms->element[i]->str ? rooms->element[i]->str : "", NULL, 10);
      const redisReply *m = rooms->element[i + 1];
      for (size_t k = 0; room > 0 && m->type == REDIS_REPLY_ARRAY && k < m->elements; k++) {
        const char *name = member_name(m->element[k]);
        if (name) rm_set(&next, room, name, 1);
      }
    }
    for (size_t i = 0; i < p->hb_nlog; i++) {
      const pev_t *e = &p->hb_log[i];
      if (e->room_ev)
        rm_set(&next, e->id, e->name, e->on);
      else if (e->on)
        chat_imap_put(&seen, e->id, e->name);
      else
        chat_imap_del(&seen, e->id);
    }
    rm_free(&p->mirror_rooms);
    p->mirror_rooms = next;
    for (size_t i = 0; i < seen.cap; i++)
      if (seen.slots[i].key) mirror_set_user(p, seen.slots[i].key, seen.slots[i].val, 1);
    /* A user still connected here stays online whatever others say. */
    for (size_t i = 0; i < p->mirror_users.cap; i++) {
      int64_t uid = p->mirror_users.slots[i].key;
      if (uid && !chat_imap_get(&seen, uid) && !chat_imap_get(&p->local_users, uid)) {
        mirror_set_user(p, uid, NULL, 0);
        i = (size_t)-1;
      }
    }
    chat_imap_free(&seen);
  }
  if (p->hb_out == 0) hb_log_clear(p);
}

static void heartbeat(rp_t *p) {
  if (!p->up) return;
  char ttl[16];
  snprintf(ttl, sizeof(ttl), "%d", TTL_S);
  const char *args[] = {p->iid, ttl};
  if (eval(p, S_HEARTBEAT, heartbeat_reply, p, 2, args, NULL) == 0) p->hb_out++;
}

static void timer_cb(uv_timer_t *t) { heartbeat(t->data); }

static void redis_connect_user(rp_t *p, int64_t uid, const char *name) {
  char id[24], ttl[16];
  snprintf(id, sizeof(id), "%" PRId64, uid);
  snprintf(ttl, sizeof(ttl), "%d", TTL_S);
  const char *args[] = {p->iid, id, name, ttl};
  eval(p, S_CONNECT, NULL, NULL, 4, args, NULL);
}

static void redis_join(rp_t *p, int64_t room, int64_t uid, const char *name) {
  char rid[24], id[24], ttl[16];
  snprintf(rid, sizeof(rid), "%" PRId64, room);
  snprintf(id, sizeof(id), "%" PRId64, uid);
  snprintf(ttl, sizeof(ttl), "%d", TTL_S);
  const char *args[] = {p->iid, rid, id, name, ttl};
  eval(p, S_JOIN, NULL, NULL, 5, args, NULL);
}

/* Redis is back (or there for the first time): write this instance's
 * state, doubt the shared message lists, resynchronise. */
static void announce(rp_t *p) {
  char ttl[16];
  snprintf(ttl, sizeof(ttl), "%d", TTL_S);
  const char *a1[] = {"SET", NULL, "1", "EX", ttl};
  char alive[64];
  snprintf(alive, sizeof(alive), "chat:inst:%s:alive", p->iid);
  a1[1] = alive;
  chat_redis_command(p->redis, ignore_reply, NULL, 5, a1, NULL);
  const char *a2[] = {"SADD", "chat:instances", p->iid};
  chat_redis_command(p->redis, ignore_reply, NULL, 3, a2, NULL);
  for (size_t i = 0; i < p->local_users.cap; i++) {
    if (p->local_users.slots[i].key == 0) continue;
    luser_t *u = p->local_users.slots[i].val;
    redis_connect_user(p, p->local_users.slots[i].key, u->name);
  }
  for (size_t i = 0; i < p->local_rooms.cap; i++) {
    if (p->local_rooms.slots[i].key == 0) continue;
    lroom_t *lr = p->local_rooms.slots[i].val;
    for (size_t k = 0; k < lr->n; k++)
      redis_join(p, p->local_rooms.slots[i].key, lr->v[k].uid, lr->v[k].name);
  }
  eval(p, S_RECENT_DOUBT, NULL, NULL, 0, NULL, NULL);
  heartbeat(p);
}

static void on_state(chat_redis_t *r, int up, void *ud) {
  rp_t *p = ud;
  p->up = up;
  if (up) {
    chat_log_info("redis: connected; presence is shared");
    announce(p);
  } else {
    chat_log_warn("redis: connection lost; serving local presence until it is back");
    mirror_from_local(p);
  }
  if (p->super.on_backend && !p->closing) p->super.on_backend(p->super.ud, up);
}

/* One server-wide event: online events are presence's own, the others go
 * to the server (which decodes them again: only a line naming "online" is
 * decoded here). */
static void on_global_frame(rp_t *p, const char *json, size_t jlen) {
  if (memmem(json, jlen, "\"online\"", 8)) {
    chat_proto_ev_t ev;
    chat_proto_ev_decode(json, jlen, &ev);
    int online_ev = ev.type == CHAT_PROTO_EV_ONLINE;
    /* A user still connected here stays online whatever others say. */
    if (online_ev && (ev.online || chat_imap_get(&p->local_users, ev.user_id) == NULL))
      mirror_set_user(p, ev.user_id, ev.user, ev.online);
    if (online_ev) hb_note(p, 0, ev.user_id, ev.user, ev.online);
    chat_proto_ev_free(&ev);
    if (online_ev) return;
  }
  if (p->super.on_event) p->super.on_event(p->super.ud, 0, json, jlen);
}

/* One frame for the members of a room. */
static void on_room_frame(rp_t *p, int64_t room, const char *json, size_t flen) {
  /* Room members follow the presence frames between two resyncs. */
  if (flen > 20 && memmem(json, flen, "\"presence\"", 10)) {
    chat_proto_ev_t ev;
    chat_proto_ev_decode(json, flen, &ev);
    if (ev.type == CHAT_PROTO_EV_PRESENCE) mirror_room_set(p, room, ev.user, ev.join);
    chat_proto_ev_free(&ev);
  }
  if (p->super.on_event) p->super.on_event(p->super.ud, room, json, flen);
}

/* A published payload: a bus batch (net/proto.h), one event a line. */
static void on_message(chat_redis_t *r, const char *channel, const char *data, size_t len,
                       void *ud) {
  rp_t *p = ud;
  chat_proto_bus_t it;
  if (p->closing || chat_proto_bus_open(&it, data, len) != 0) return;
  if (it.sender_len == strlen(p->iid) && memcmp(it.sender, p->iid, it.sender_len) == 0) return;
  int64_t room = 0;
  if (strncmp(channel, "chat:room:", 10) == 0) {
    room = strtoll(channel + 10, NULL, 10);
    if (room <= 0) return;
  } else if (strcmp(channel, "chat:global") != 0) {
    return;
  }
  const char *json;
  size_t flen;
  while (chat_proto_bus_next(&it, &json, &flen)) {
    if (room)
      on_room_frame(p, room, json, flen);
    else
      on_global_frame(p, json, flen);
  }
}

/* ---- operations -------------------------------------------------------- */

static void rp_connect(chat_presence_t *pp, int64_t uid, const char *name) {
  rp_t *p = (rp_t *)pp;
  luser_t *u = chat_imap_get(&p->local_users, uid);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    u->name = chat_xstrdup(name);
    chat_imap_put(&p->local_users, uid, u);
  }
  if (u->conns++ > 0) return;
  mirror_set_user(p, uid, name, 1);
  if (p->up) redis_connect_user(p, uid, name);
}

typedef struct {
  rp_t *p;
  int64_t uid;
} uid_req_t;

static void disconnect_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  uid_req_t *q = ud;
  rp_t *p = q->p;
  if (!p->closing && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 &&
      chat_imap_get(&p->local_users, q->uid) == NULL)
    mirror_set_user(p, q->uid, NULL, 0);
  free(q);
}

static void rp_disconnect(chat_presence_t *pp, int64_t uid) {
  rp_t *p = (rp_t *)pp;
  luser_t *u = chat_imap_get(&p->local_users, uid);
  if (u == NULL || --u->conns > 0) return;
  chat_imap_del(&p->local_users, uid);
  free(u->name);
  free(u);
  if (!p->up) {
    mirror_set_user(p, uid, NULL, 0);
    return;
  }
  char id[24];
  snprintf(id, sizeof(id), "%" PRId64, uid);
  const char *args[] = {p->iid, id};
  uid_req_t *q = chat_xmalloc(sizeof(*q));
  q->p = p;
  q->uid = uid;
  if (eval(p, S_DISCONNECT, disconnect_reply, q, 2, args, NULL) != 0) {
    free(q);
    mirror_set_user(p, uid, NULL, 0);
  }
}

static void rp_room_join(chat_presence_t *pp, int64_t room, int64_t uid, const char *name) {
  rp_t *p = (rp_t *)pp;
  lroom_t *lr = chat_imap_get(&p->local_rooms, room);
  if (lr == NULL) {
    lr = chat_xcalloc(1, sizeof(*lr));
    chat_imap_put(&p->local_rooms, room, lr);
  }
  if (lr->n == lr->cap) {
    lr->cap = lr->cap ? lr->cap * 2 : 4;
    lr->v = chat_xrealloc(lr->v, lr->cap * sizeof(*lr->v));
  }
  lr->v[lr->n].uid = uid;
  lr->v[lr->n].name = chat_xstrdup(name);
  lr->n++;
  if (p->up) {
    redis_join(p, room, uid, name);
  } else {
    mirror_room_set(p, room, name, 1);
    chat_presence_emit_room(&p->super, room, name, 1);
  }
}

static void rp_room_leave(chat_presence_t *pp, int64_t room, int64_t uid, const char *name) {
  rp_t *p = (rp_t *)pp;
  lroom_t *lr = chat_imap_get(&p->local_rooms, room);
  if (lr) {
    for (size_t i = 0; i < lr->n; i++) {
      if (lr->v[i].uid != uid) continue;
      free(lr->v[i].name);
      lr->v[i] = lr->v[--lr->n];
      break;
    }
    if (lr->n == 0) {
      chat_imap_del(&p->local_rooms, room);
      free(lr->v);
      free(lr);
    }
  }
  if (p->up) {
    char rid[24], id[24];
    snprintf(rid, sizeof(rid), "%" PRId64, room);
    snprintf(id, sizeof(id), "%" PRId64, uid);
    const char *args[] = {p->iid, rid, id, name};
    eval(p, S_LEAVE, NULL, NULL, 4, args, NULL);
  } else {
    mirror_room_set(p, room, name, 0);
    chat_presence_emit_room(&p->super, room, name, 0);
  }
}

static size_t rp_room_count(chat_presence_t *pp, int64_t room) {
  rp_t *p = (rp_t *)pp;
  return (size_t)(uintptr_t)chat_imap_get(&p->mirror_rooms.count, room);
}

static const char *mirror_name(void *val) { return val; }

static void rp_online_users(chat_presence_t *pp, chat_presence_each_cb each, void *ud) {
  chat_presence_each_by_name(&((rp_t *)pp)->mirror_users, mirror_name, each, ud);
}

static void flush_out(rp_t *p);

static void flush_idle_cb(uv_idle_t *h) {
  rp_t *p = h->data;
  uv_idle_stop(h);
  flush_out(p);
}

static void schedule_flush(rp_t *p) {
  if (!uv_is_active((uv_handle_t *)&p->flush_idle)) uv_idle_start(&p->flush_idle, flush_idle_cb);
}

static chat_sb_t *out_buf(chat_imap_t *m, int64_t key) {
  chat_sb_t *sb = chat_imap_get(m, key);
  if (sb == NULL) {
    sb = chat_xmalloc(sizeof(*sb));
    chat_sb_init(sb);
    chat_imap_put(m, key, sb);
  }
  return sb;
}

/* Frames and list entries gathered in a loop turn go out as one PUBLISH per
 * channel and one LPUSH per room: a burst of messages costs Redis a few
 * commands, not three per message. */
static void flush_out(rp_t *p) {
  for (size_t i = 0; i < p->out_frames.cap; i++) {
    int64_t key = p->out_frames.slots[i].key;
    if (key == 0) continue;
    chat_sb_t *sb = p->out_frames.slots[i].val;
    if (p->up && sb->len > 0) {
      char channel[48];
      if (key > 0)
        snprintf(channel, sizeof(channel), "chat:room:%" PRId64, key);
      else
        snprintf(channel, sizeof(channel), "chat:global");
      chat_redis_publish(p->redis, channel, sb->buf, chat_proto_bus_len(sb));
    }
    chat_sb_free(sb);
    free(sb);
  }
  chat_imap_free(&p->out_frames);
  chat_imap_init(&p->out_frames);
  for (size_t i = 0; i < p->out_recent.cap; i++) {
    int64_t room = p->out_recent.slots[i].key;
    if (room == 0) continue;
    chat_sb_t *sb = p->out_recent.slots[i].val;
    if (p->up) {
      /* Entries are NUL-separated, oldest first: LPUSH leaves the newest
       * at the head. */
      size_t n = 0;
      for (size_t k = 0; k < sb->len; k++) n += sb->buf[k] == '\0';
      const char **argv = chat_xmalloc((n + 2) * sizeof(char *));
      size_t *lens = chat_xmalloc((n + 2) * sizeof(size_t));
      char key[48], max[16];
      snprintf(key, sizeof(key), "room:%" PRId64 ":recent", room);
      snprintf(max, sizeof(max), "%d", CHAT_RECENT_MAX - 1);
      argv[0] = "LPUSH";
      lens[0] = 5;
      argv[1] = key;
      lens[1] = strlen(key);
      size_t at = 0, c = 2;
      while (at < sb->len) {
        size_t l = strlen(sb->buf + at);
        argv[c] = sb->buf + at;
        lens[c++] = l;
        at += l + 1;
      }
      chat_redis_command(p->redis, ignore_reply, NULL, (int)c, argv, lens);
      const char *t[] = {"LTRIM", key, "0", max};
      chat_redis_command(p->redis, ignore_reply, NULL, 4, t, NULL);
      free(argv);
      free(lens);
    }
    chat_sb_free(sb);
    free(sb);
  }
  chat_imap_free(&p->out_recent);
  chat_imap_init(&p->out_recent);
}

static void rp_publish(chat_presence_t *pp, int64_t room, const char *json, size_t len) {
  rp_t *p = (rp_t *)pp;
  if (!p->up || p->closing) return;
  chat_proto_bus_add(out_buf(&p->out_frames, room ? room : -1), p->iid, json, len);
  schedule_flush(p);
}

static void rp_recent_push(chat_presence_t *pp, int64_t room, const char *obj, size_t len) {
  rp_t *p = (rp_t *)pp;
  if (!p->up || p->closing || memchr(obj, '\0', len)) return;
  chat_sb_t *sb = out_buf(&p->out_recent, room);
  chat_sb_append(sb, obj, len);
  chat_sb_append(sb, "", 1);  /* the NUL separator */
  schedule_flush(p);
}

typedef struct {
  chat_presence_recent_cb cb;
  void *ud;
} recent_req_t;

static void recent_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  recent_req_t *q = ud;
  const redisReply *list = NULL, *members = NULL;
  if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
    if (reply->element[0]->type == REDIS_REPLY_ARRAY) list = reply->element[0];
    if (reply->element[1]->type == REDIS_REPLY_ARRAY) members = reply->element[1];
  }
  size_t n = list ? list->elements : 0, nm = members ? members->elements : 0;
  char **objs = chat_xcalloc(n + 1, sizeof(char *));
  size_t *lens = chat_xcalloc(n + 1, sizeof(size_t));
  char **names = chat_xcalloc(nm + 1, sizeof(char *));
  /* The list is newest first; the caller wants oldest first. */
  for (size_t i = 0; i < n; i++) {
    const redisReply *e = list->element[n - 1 - i];
    objs[i] = chat_xstrndup(e->str ? e->str : "", e->len);
    lens[i] = e->len;
  }
  size_t k = 0;
  for (size_t i = 0; i < nm; i++) {  /* "UID:NAME" */
    const redisReply *e = members->element[i];
    const char *colon = e->str ? memchr(e->str, ':', e->len) : NULL;
    if (colon) names[k++] = chat_xstrndup(colon + 1, e->len - (size_t)(colon + 1 - e->str));
  }
  q->cb(q->ud, list != NULL, objs, lens, n, names, k);
  for (size_t i = 0; i < n; i++) free(objs[i]);
  for (size_t i = 0; i < k; i++) free(names[i]);
  free(objs);
  free(lens);
  free(names);
  free(q);
}

static int rp_is_online(chat_presence_t *pp, int64_t uid) {
  rp_t *p = (rp_t *)pp;
  return chat_imap_get(&p->mirror_users, uid) != NULL || chat_imap_get(&p->local_users, uid) != NULL;
}

static void rp_recent_doubt(chat_presence_t *pp, int64_t room) {
  rp_t *p = (rp_t *)pp;
  if (!p->up) return;
  /* The whole list goes (the next load seeds it from the store): a merge
   * would bring a deleted message back. */
  char key[48], ok[48];
  snprintf(key, sizeof(key), "room:%" PRId64 ":recent", room);
  snprintf(ok, sizeof(ok), "room:%" PRId64 ":recent_ok", room);
  const char *a[] = {"DEL", ok, key};
  chat_redis_command(p->redis, ignore_reply, NULL, 3, a, NULL);
}

static void rp_room_forget(chat_presence_t *pp, int64_t room) {
  rp_t *p = (rp_t *)pp;
  if (!p->up) return;
  char rid[24];
  snprintf(rid, sizeof(rid), "%" PRId64, room);
  const char *args[] = {rid};
  eval(p, S_ROOM_FORGET, NULL, NULL, 1, args, NULL);
}

static void rp_recent_load(chat_presence_t *pp, int64_t room, chat_presence_recent_cb cb,
                           void *ud) {
  rp_t *p = (rp_t *)pp;
  recent_req_t *q = chat_xmalloc(sizeof(*q));
  q->cb = cb;
  q->ud = ud;
  char rid[24], max[16];
  snprintf(rid, sizeof(rid), "%" PRId64, room);
  snprintf(max, sizeof(max), "%d", CHAT_RECENT_MAX);
  const char *args[] = {rid, max};
  if (!p->up || eval(p, S_RECENT_LOAD, recent_reply, q, 2, args, NULL) != 0) {
    free(q);
    cb(ud, 0, NULL, NULL, 0, NULL, 0);
  }
}

static void rp_recent_seed(chat_presence_t *pp, int64_t room, char **objs, size_t *lens,
                           size_t n) {
  rp_t *p = (rp_t *)pp;
  if (!p->up || n + 2 > 60) {
    if (!p->up || n == 0) return;
    /* Keep the newest that fit one call. */
    size_t skip = n + 2 - 60;
    objs += skip;
    lens += skip;
    n -= skip;
  }
  const char *args[62];
  size_t alen[62];
  char rid[24], max[16];
  snprintf(rid, sizeof(rid), "%" PRId64, room);
  snprintf(max, sizeof(max), "%d", CHAT_RECENT_MAX);
  args[0] = rid;
  alen[0] = strlen(rid);
  args[1] = max;
  alen[1] = strlen(max);
  for (size_t i = 0; i < n; i++) {
    args[2 + i] = objs[i];
    alen[2 + i] = lens[i];
  }
  eval(p, S_RECENT_SEED, NULL, NULL, (int)n + 2, args, alen);
}

static int rp_shared(chat_presence_t *pp) { return 1; }

static const char *rp_backend_state(chat_presence_t *pp) {
  return ((rp_t *)pp)->up ? "ok" : "down";
}

static void free_all(rp_t *p) {
  for (size_t i = 0; i < p->local_users.cap; i++) {
    if (p->local_users.slots[i].key == 0) continue;
    luser_t *u = p->local_users.slots[i].val;
    free(u->name);
    free(u);
  }
  for (size_t i = 0; i < p->local_rooms.cap; i++) {
    if (p->local_rooms.slots[i].key == 0) continue;
    lroom_t *lr = p->local_rooms.slots[i].val;
    for (size_t k = 0; k < lr->n; k++) free(lr->v[k].name);
    free(lr->v);
    free(lr);
  }
  for (size_t i = 0; i < p->mirror_users.cap; i++)
    if (p->mirror_users.slots[i].key) free(p->mirror_users.slots[i].val);
  chat_imap_free(&p->local_users);
  chat_imap_free(&p->local_rooms);
  chat_imap_free(&p->mirror_users);
  rm_free(&p->mirror_rooms);
  hb_log_clear(p);
  free(p->hb_log);
  chat_imap_free(&p->out_frames);
  chat_imap_free(&p->out_recent);
}

static void maybe_closed(rp_t *p) {
  if (p->handles > 0) return;
  void (*done)(void *) = p->done;
  void *done_ud = p->done_ud;
  free_all(p);
  free(p);
  if (done) done(done_ud);
}

static void timer_closed(uv_handle_t *h) {
  rp_t *p = h->data;
  p->handles--;
  maybe_closed(p);
}

static void redis_closed(chat_redis_t *r, void *ud) {
  rp_t *p = ud;
  p->redis = NULL;
  p->handles--;
  maybe_closed(p);
}

/* The last step of a close: every handle goes. */
static void finish_close(rp_t *p) {
  if (p->finishing) return;
  p->finishing = 1;
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, timer_closed);
  uv_close((uv_handle_t *)&p->flush_idle, timer_closed);
  chat_redis_close(p->redis, redis_closed);
}

static void goodbye_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  finish_close(ud);
}

static void goodbye_timeout(uv_timer_t *t) { finish_close(t->data); }

static void rp_close(chat_presence_t *pp, void (*done)(void *ud), void *ud) {
  rp_t *p = (rp_t *)pp;
  p->closing = 1;
  p->done = done;
  p->done_ud = ud;
  flush_out(p);
  /* This instance leaves at once rather than after its TTL: its alive key
   * goes and it reaps itself, so the others see its users go.  The client
   * is closed once Redis has answered (or after a second), so that what
   * was queued is written, not dropped. */
  if (p->up) {
    char alive[64];
    snprintf(alive, sizeof(alive), "chat:inst:%s:alive", p->iid);
    const char *a[] = {"DEL", alive};
    chat_redis_command(p->redis, ignore_reply, NULL, 2, a, NULL);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", TTL_S);
    const char *argv[] = {"", ttl};
    if (eval(p, S_HEARTBEAT, goodbye_reply, p, 2, argv, NULL) == 0) {
      uv_timer_stop(&p->timer);
      uv_timer_start(&p->timer, goodbye_timeout, 1000, 0);
      return;
    }
  }
  finish_close(p);
}

static const chat_presence_ops_t redis_ops = {
    .connect = rp_connect,
    .disconnect = rp_disconnect,
    .room_join = rp_room_join,
    .room_leave = rp_room_leave,
    .room_count = rp_room_count,
    .online_users = rp_online_users,
    .publish = rp_publish,
    .recent_push = rp_recent_push,
    .recent_load = rp_recent_load,
    .recent_seed = rp_recent_seed,
    .room_forget = rp_room_forget,
    .recent_doubt = rp_recent_doubt,
    .is_online = rp_is_online,
    .shared = rp_shared,
    .backend_state = rp_backend_state,
    .close = rp_close,
};

chat_presence_t *chat_presence_redis_new(uv_loop_t *loop, const char *url,
                                         chat_presence_online_cb on_online,
                                         chat_presence_event_cb on_event, void *ud,
                                         char *err, size_t errlen) {
  rp_t *p = chat_xcalloc(1, sizeof(*p));
  static const chat_redis_events_t ev = {on_state, on_message};
  p->redis = chat_redis_new(loop, url, &ev, p, err, errlen);
  if (p->redis == NULL) {
    free(p);
    return NULL;
  }
  p->super.ops = &redis_ops;
  p->super.on_online = on_online;
  p->super.on_event = on_event;
  p->super.ud = ud;
  p->loop = loop;
  uint64_t a = 0;
  if (uv_random(NULL, NULL, &a, sizeof(a), 0, NULL) != 0) a = uv_hrtime();
  snprintf(p->iid, sizeof(p->iid), "%016" PRIx64, a);
  chat_imap_init(&p->local_users);
  chat_imap_init(&p->local_rooms);
  chat_imap_init(&p->mirror_users);
  rm_init(&p->mirror_rooms);
  chat_imap_init(&p->out_frames);
  chat_imap_init(&p->out_recent);
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  uv_idle_init(loop, &p->flush_idle);
  p->flush_idle.data = p;
  p->handles = 3;  /* the timer, the idle handle and the Redis client */
  uv_timer_start(&p->timer, timer_cb, HEARTBEAT_MS, HEARTBEAT_MS);
  chat_redis_subscribe(p->redis, "chat:global");
  chat_redis_psubscribe(p->redis, "chat:room:*");
  chat_redis_start(p->redis);
  return &p->super;
}
