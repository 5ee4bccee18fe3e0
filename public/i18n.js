// The one catalogue of visible text, in Chinese (zh) and English (en).
// Placeholders are written {name} and filled by translate().

export const catalogue = {
  zh: {
    appName: '在线聊天',
    skipToContent: '跳到主要内容',
    langSwitch: 'English',
    langSwitchAria: 'Switch to English',
    loading: '加载中…',
    loadFailed: '无法连接到服务器。',
    retry: '重试',
    close: '关闭',
    you: '（我）',

    'login.title': '登录',
    'login.username': '用户名',
    'login.password': '密码',
    'login.submit': '登录',
    'login.noAccount': '还没有账号？',
    'login.toRegister': '注册一个',
    'register.title': '注册账号',
    'register.username': '用户名',
    'register.email': '电子邮箱',
    'register.password': '密码',
    'register.usernameHint': '3–32 个字符：任意文字的字母、数字以及 _ . -',
    'register.passwordHint': '8–128 个字节（至少 8 个英文字符）',
    'register.submit': '注册并登录',
    'register.haveAccount': '已有账号？',
    'register.toLogin': '去登录',
    'session.revoked': '你的登录已失效（可能在别处修改了密码、退出了登录或账号被封禁），请重新登录。',
    'session.expired': '登录已过期，请重新登录。',
    'session.loggedOut': '你已退出登录。',

    'err.invalid_username': '用户名需为 3–32 个字符，只能包含文字、数字和 _ . -',
    'err.weak_password': '密码长度需为 8–128 个字节。',
    'err.invalid_email': '请输入有效的电子邮箱地址。',
    'err.username_taken': '这个用户名已经被占用了。',
    'err.invalid_credentials': '用户名或密码不正确。',
    'err.banned': '该账号已被封禁。',
    'err.rate_limited': '操作太频繁，请稍后再试。',
    'err.rate_limited_wait': '尝试次数过多，请在 {s} 秒后重试。',
    'err.bad_origin': '请求被拒绝：页面来源与服务器不一致。请通过聊天服务器自己的地址打开本页面。',
    'err.wrong_password': '当前密码不正确。',
    'err.invalid_name': '房间名无效。',
    'err.room_exists': '已经有同名的房间了。',
    'err.no_such_room': '房间不存在（可能已被删除）。',
    'err.no_such_user': '用户不存在。',
    'err.forbidden': '你没有权限执行此操作。',
    'err.unauthenticated': '请先登录。',
    'err.not_found': '找不到请求的内容。',
    'err.bad_json': '发送的数据格式有误。',
    'err.unknown_type': '服务器不认识这个请求。',
    'err.bad_request': '请求无效。',
    'err.not_member': '你还不在这个房间里，正在重新加入…',
    'err.empty_text': '消息不能为空。',
    'err.text_too_long': '消息太长了（最多 {max} 个字符）。',
    'err.not_friends': '只能给好友发私信。',
    'err.store_unavailable': '服务器暂时无法保存消息，稍后会自动重试。',
    'err.network': '网络错误，请检查连接后重试。',
    'err.generic': '出错了（{status}），请稍后再试。',
    'err.required': '此项不能为空。',
    'err.passwordMismatch': '两次输入的新密码不一致。',

    'nav.userMenu': '用户菜单：{name}',
    'nav.changePassword': '修改密码',
    'nav.logout': '退出登录',
    'notify.enable': '开启通知',
    'notify.enableAria': '开启桌面通知，在其他房间有新消息时提醒我',

    'conn.connecting': '正在连接…',
    'conn.online': '已连接',
    'conn.reconnecting': '连接已断开，正在重连',
    'conn.offline': '网络已离线',
    'conn.retryIn': '{s} 秒后重试',
    'conn.reconnectNow': '立即重连',

    'room.lobbyName': '大厅',
    'rooms.heading': '聊天室',
    'rooms.empty': '暂时没有聊天室。',
    'rooms.online': '{n} 人在线',
    'rooms.unread': '{n} 条未读消息',
    'rooms.joined': '已加入',
    'users.heading': '在线用户',
    'users.empty': '暂时没有在线用户。',
    'home.title': '欢迎，{name}',
    'home.hint': '选择一个聊天室开始聊天。进入过的聊天室会保持加入状态，有新消息时会显示未读数。',

    'admin.heading': '聊天室管理',
    'admin.name': '房间名',
    'admin.topic': '主题',
    'admin.create': '创建',
    'admin.created': '已创建聊天室「{name}」。',
    'admin.edit': '编辑',
    'admin.save': '保存',
    'admin.cancel': '取消',
    'admin.delete': '删除',
    'admin.confirmDelete': '确定要删除聊天室「{name}」吗？其中的所有成员都会被移出。',
    'admin.deleted': '已删除聊天室「{name}」。',
    'admin.saved': '已保存聊天室「{name}」。',
    'admin.editFor': '编辑「{name}」',
    'admin.deleteFor': '删除「{name}」',
    'admin.noTopic': '（无主题）',

    'room.back': '返回',
    'room.backAria': '返回聊天室列表',
    'room.members': '成员',
    'room.leave': '离开',
    'room.leaveAria': '离开这个聊天室',
    'room.loadOlder': '加载更早的消息',
    'room.loadingOlder': '正在加载…',
    'room.historyStart': '已经是最早的消息了。',
    'room.empty': '还没有消息，来说第一句话吧！',
    'room.jumpLatest': '有新消息 ↓',
    'room.notFound': '找不到这个聊天室。',
    'room.deleted': '聊天室「{name}」已被删除。',
    'room.messagesLabel': '「{name}」中的消息',
    'room.membersEmpty': '暂无成员。',

    'composer.label': '消息内容',
    'composer.placeholder': '发消息到「{room}」',
    'composer.hint': 'Enter 发送，Shift+Enter 换行',
    'composer.send': '发送',
    'composer.count': '{n}/{max}',

    'msg.sending': '发送中…',
    'msg.failed': '发送失败',
    'msg.retry': '重试',
    'msg.discard': '放弃',
    'msg.delete': '删除',
    'msg.deleteAria': '删除这条消息',
    'msg.confirmDelete': '确定要删除这条消息吗？',
    'msg.announce': '{sender}：{text}',

    'typing.one': '{a} 正在输入…',
    'typing.two': '{a} 和 {b} 正在输入…',
    'typing.many': '{n} 人正在输入…',

    'password.title': '修改密码',
    'password.old': '当前密码',
    'password.new': '新密码',
    'password.confirm': '再次输入新密码',
    'password.submit': '修改密码',
    'password.success': '密码已修改。你在其他设备或浏览器上的登录已全部退出。',
  },

  en: {
    appName: 'Chat',
    skipToContent: 'Skip to main content',
    langSwitch: '中文',
    langSwitchAria: '切换到中文',
    loading: 'Loading…',
    loadFailed: 'Cannot reach the server.',
    retry: 'Retry',
    close: 'Close',
    you: '(you)',

    'login.title': 'Sign in',
    'login.username': 'Username',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.noAccount': 'No account yet?',
    'login.toRegister': 'Create one',
    'register.title': 'Create an account',
    'register.username': 'Username',
    'register.email': 'Email',
    'register.password': 'Password',
    'register.usernameHint': '3–32 characters: letters of any script, digits and _ . -',
    'register.passwordHint': '8–128 bytes (at least 8 Latin characters)',
    'register.submit': 'Create account and sign in',
    'register.haveAccount': 'Already have an account?',
    'register.toLogin': 'Sign in',
    'session.revoked': 'Your session has ended (the password was changed, you signed out elsewhere, or the account was banned). Please sign in again.',
    'session.expired': 'Your session has expired. Please sign in again.',
    'session.loggedOut': 'You have signed out.',

    'err.invalid_username': 'Usernames are 3–32 characters: letters, digits and _ . - only.',
    'err.weak_password': 'Passwords must be 8–128 bytes long.',
    'err.invalid_email': 'Please enter a valid email address.',
    'err.username_taken': 'That username is already taken.',
    'err.invalid_credentials': 'Wrong username or password.',
    'err.banned': 'This account has been banned.',
    'err.rate_limited': 'Too many requests. Please slow down.',
    'err.rate_limited_wait': 'Too many attempts. Try again in {s} s.',
    'err.bad_origin': 'Request refused: this page does not come from the chat server’s own address. Open the chat from its own address.',
    'err.wrong_password': 'The current password is wrong.',
    'err.invalid_name': 'That room name is not valid.',
    'err.room_exists': 'A room with that name already exists.',
    'err.no_such_room': 'That room does not exist (it may have been deleted).',
    'err.no_such_user': 'No such user.',
    'err.forbidden': 'You are not allowed to do that.',
    'err.unauthenticated': 'Please sign in first.',
    'err.not_found': 'Not found.',
    'err.bad_json': 'The data sent was malformed.',
    'err.unknown_type': 'The server did not understand that request.',
    'err.bad_request': 'Invalid request.',
    'err.not_member': 'You are not in this room yet; joining again…',
    'err.empty_text': 'A message cannot be empty.',
    'err.text_too_long': 'That message is too long (at most {max} characters).',
    'err.not_friends': 'Direct messages are for friends only.',
    'err.store_unavailable': 'The server cannot store messages right now; retrying shortly.',
    'err.network': 'Network error. Check your connection and try again.',
    'err.generic': 'Something went wrong ({status}). Please try again later.',
    'err.required': 'This field is required.',
    'err.passwordMismatch': 'The new passwords do not match.',

    'nav.userMenu': 'User menu: {name}',
    'nav.changePassword': 'Change password',
    'nav.logout': 'Sign out',
    'notify.enable': 'Enable notifications',
    'notify.enableAria': 'Enable desktop notifications for new messages in other rooms',

    'conn.connecting': 'Connecting…',
    'conn.online': 'Connected',
    'conn.reconnecting': 'Disconnected, reconnecting',
    'conn.offline': 'Network offline',
    'conn.retryIn': 'retry in {s} s',
    'conn.reconnectNow': 'Reconnect now',

    'room.lobbyName': 'Lobby',
    'rooms.heading': 'Rooms',
    'rooms.empty': 'No rooms yet.',
    'rooms.online': '{n} online',
    'rooms.unread': '{n} unread messages',
    'rooms.joined': 'joined',
    'users.heading': 'Online users',
    'users.empty': 'Nobody is online.',
    'home.title': 'Welcome, {name}',
    'home.hint': 'Pick a room to start chatting. Rooms you open stay joined and show unread counts for new messages.',

    'admin.heading': 'Manage rooms',
    'admin.name': 'Room name',
    'admin.topic': 'Topic',
    'admin.create': 'Create',
    'admin.created': 'Room “{name}” created.',
    'admin.edit': 'Edit',
    'admin.save': 'Save',
    'admin.cancel': 'Cancel',
    'admin.delete': 'Delete',
    'admin.confirmDelete': 'Delete the room “{name}”? Everyone in it will be removed.',
    'admin.deleted': 'Room “{name}” deleted.',
    'admin.saved': 'Room “{name}” saved.',
    'admin.editFor': 'Edit “{name}”',
    'admin.deleteFor': 'Delete “{name}”',
    'admin.noTopic': '(no topic)',

    'room.back': 'Back',
    'room.backAria': 'Back to the room list',
    'room.members': 'Members',
    'room.leave': 'Leave',
    'room.leaveAria': 'Leave this room',
    'room.loadOlder': 'Load older messages',
    'room.loadingOlder': 'Loading…',
    'room.historyStart': 'This is the beginning of the room.',
    'room.empty': 'No messages yet. Say hello!',
    'room.jumpLatest': 'New messages ↓',
    'room.notFound': 'That room could not be found.',
    'room.deleted': 'The room “{name}” was deleted.',
    'room.messagesLabel': 'Messages in {name}',
    'room.membersEmpty': 'No members.',

    'composer.label': 'Message',
    'composer.placeholder': 'Message {room}',
    'composer.hint': 'Enter to send, Shift+Enter for a new line',
    'composer.send': 'Send',
    'composer.count': '{n}/{max}',

    'msg.sending': 'Sending…',
    'msg.failed': 'Not sent',
    'msg.retry': 'Retry',
    'msg.discard': 'Discard',
    'msg.delete': 'Delete',
    'msg.deleteAria': 'Delete this message',
    'msg.confirmDelete': 'Delete this message?',
    'msg.announce': '{sender}: {text}',

    'typing.one': '{a} is typing…',
    'typing.two': '{a} and {b} are typing…',
    'typing.many': '{n} people are typing…',

    'password.title': 'Change password',
    'password.old': 'Current password',
    'password.new': 'New password',
    'password.confirm': 'Repeat the new password',
    'password.submit': 'Change password',
    'password.success': 'Password changed. You have been signed out everywhere else.',
  },
};

const STORAGE_KEY = 'chat.lang';

/** The saved choice, else the first of the browser's languages that is zh or en, else en. */
export function detectLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && catalogue[saved]) return saved;
  } catch (_) { /* storage may be unavailable */ }
  const prefs = (navigator.languages && navigator.languages.length)
    ? navigator.languages : [navigator.language || ''];
  for (const p of prefs) {
    const l = String(p).toLowerCase();
    if (l.startsWith('zh')) return 'zh';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

export function saveLang(lang) {
  try { localStorage.setItem(STORAGE_KEY, lang); } catch (_) { /* ignore */ }
}

/** Text for key in lang with {placeholders} filled; falls back to English, then to the key. */
export function translate(lang, key, params) {
  const table = catalogue[lang] || catalogue.en;
  let s = table[key];
  if (s === undefined) s = catalogue.en[key];
  if (s === undefined) return key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return s;
}

/** BCP 47 tag for the html lang attribute and Intl formatters. */
export function localeTag(lang) {
  return lang === 'zh' ? 'zh-CN' : 'en';
}
