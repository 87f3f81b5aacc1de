/* Skyvault's DJI Pilot 2 page (docs/pilot.md): log in, then hand the licence, workspace, server and MQTT
 * login to Pilot 2 through window.djiBridge in the order of docs/protocol.md §8. Plain script, no build. */
/* global window, document, navigator, localStorage, fetch, setTimeout, clearTimeout */
(function () {
  'use strict';

  var SESSION_KEY = 'skyvault.pilot.session';
  var SETTINGS_KEY = 'skyvault.pilot.media';
  var LANG_KEY = 'skyvault.pilot.lang';
  /** Refresh this many seconds before the token expires. */
  var REFRESH_MARGIN_S = 300;

  var TEXT = {
    en: {
      title: 'Skyvault for DJI Pilot 2',
      switchTo: '中文',
      noBridgeTitle: 'Open this page inside DJI Pilot 2',
      noBridgeText:
        "In DJI Pilot 2, go to Cloud Service → Open Platforms and enter this page's address. In a normal browser you can only check your login.",
      loginTitle: 'Log in',
      username: 'Username',
      password: 'Password',
      login: 'Log in',
      loggingIn: 'Logging in…',
      loginFailed: 'Login failed: ',
      networkError: 'The server cannot be reached. Check the network and try again.',
      statusTitle: 'Connection',
      server: 'Server',
      mqtt: 'Device link (MQTT)',
      user: 'User',
      workspace: 'Workspace',
      mqttAddress: 'MQTT address',
      uploadSettings: 'Upload settings',
      logout: 'Log out',
      stepsTitle: 'Setup steps',
      settingsHint: 'Changes apply at once.',
      autoPhoto: 'Upload photos automatically',
      photoType: 'Photo size',
      original: 'Original',
      preview: 'Preview (smaller)',
      autoVideo: 'Upload videos automatically',
      owner: 'Which controller uploads',
      ownerThis: 'This controller',
      ownerOther: 'The other controller',
      back: 'Back',
      ok: 'OK',
      failed: 'Failed',
      connected: 'Connected',
      notConnected: 'Not connected',
      connecting: 'Connecting…',
      loggedIn: 'Logged in',
      notInPilot: 'Only inside Pilot 2',
      saved: 'Saved.',
      notSaved: 'Not saved: ',
      stepVerify: 'Check the DJI app licence',
      stepIsVerified: 'Licence accepted by Pilot 2',
      stepWorkspace: 'Set the workspace',
      stepInformation: 'Show the platform name in Pilot 2',
      stepApi: 'Connect to the server',
      stepThing: 'Connect the device link (MQTT)',
      stepWs: 'Connect live updates',
      stepMedia: 'Start media upload',
      stepOwner: 'Choose the uploading controller',
      stepRefresh: 'Renew the login',
      licenceMissingTitle: 'No DJI app licence on the server',
      licenceMissingText:
        'The operator has not set SKYVAULT_DJI_APP_ID, _APP_KEY, _APP_LICENSE. Pilot 2 cannot connect until they are set on the server.',
      licenceRefusedTitle: 'Pilot 2 did not accept the DJI app licence',
      licenceRefusedText:
        'Check SKYVAULT_DJI_APP_ID, _APP_KEY and _APP_LICENSE on the server. Pilot 2 said: ',
      tlsTitle: 'Pilot 2 cannot use this MQTT address',
      tlsText:
        'The server offers MQTT only with TLS (ssl:// or wss://), which Pilot 2 cannot use here. The operator must offer a tcp:// or ws:// address (SKYVAULT_MQTT_PUBLIC_URL). Address: ',
      stepFailedTitle: 'Setup stopped',
      stepFailedText: 'A step failed; see the steps below. Log out and in again to retry.',
      setupFailed: 'The server did not give the setup: ',
      noAnswer: 'no answer',
    },
    zh: {
      title: 'Skyvault · DJI Pilot 2',
      switchTo: 'English',
      noBridgeTitle: '请在 DJI Pilot 2 中打开此页面',
      noBridgeText:
        '在 DJI Pilot 2 中进入“云服务 → 开放平台”，输入此页面的地址。在普通浏览器中只能检查登录。',
      loginTitle: '登录',
      username: '用户名',
      password: '密码',
      login: '登录',
      loggingIn: '正在登录…',
      loginFailed: '登录失败：',
      networkError: '无法连接服务器。请检查网络后重试。',
      statusTitle: '连接状态',
      server: '服务器',
      mqtt: '设备连接（MQTT）',
      user: '用户',
      workspace: '工作空间',
      mqttAddress: 'MQTT 地址',
      uploadSettings: '上传设置',
      logout: '退出登录',
      stepsTitle: '设置步骤',
      settingsHint: '更改立即生效。',
      autoPhoto: '自动上传照片',
      photoType: '照片大小',
      original: '原图',
      preview: '预览图（较小）',
      autoVideo: '自动上传视频',
      owner: '由哪个遥控器上传',
      ownerThis: '本遥控器',
      ownerOther: '另一个遥控器',
      back: '返回',
      ok: '成功',
      failed: '失败',
      connected: '已连接',
      notConnected: '未连接',
      connecting: '正在连接…',
      loggedIn: '已登录',
      notInPilot: '仅限 Pilot 2 内',
      saved: '已保存。',
      notSaved: '未保存：',
      stepVerify: '检查 DJI 应用许可',
      stepIsVerified: 'Pilot 2 已接受许可',
      stepWorkspace: '设置工作空间',
      stepInformation: '在 Pilot 2 中显示平台名称',
      stepApi: '连接服务器',
      stepThing: '连接设备（MQTT）',
      stepWs: '连接实时更新',
      stepMedia: '开启媒体上传',
      stepOwner: '选择上传的遥控器',
      stepRefresh: '续期登录',
      licenceMissingTitle: '服务器没有 DJI 应用许可',
      licenceMissingText:
        '管理员尚未设置 SKYVAULT_DJI_APP_ID、_APP_KEY、_APP_LICENSE。在服务器上设置之前，Pilot 2 无法连接。',
      licenceRefusedTitle: 'Pilot 2 未接受 DJI 应用许可',
      licenceRefusedText: '请检查服务器上的 SKYVAULT_DJI_APP_ID、_APP_KEY 和 _APP_LICENSE。Pilot 2 返回：',
      tlsTitle: 'Pilot 2 无法使用此 MQTT 地址',
      tlsText:
        '服务器只提供加密的 MQTT（ssl:// 或 wss://），Pilot 2 在此不能使用。管理员需要提供 tcp:// 或 ws:// 地址（SKYVAULT_MQTT_PUBLIC_URL）。地址：',
      stepFailedTitle: '设置已停止',
      stepFailedText: '有步骤失败，详见下方。请退出后重新登录再试。',
      setupFailed: '服务器未返回设置：',
      noAnswer: '无返回',
    },
  };

  var bridge = window.djiBridge || null;
  var lang = pickLanguage();
  var screen = 'login';
  var session = null; // the login data plus expires_at
  var setup = null; // GET /api/v1/pilot/setup data
  var loaded = []; // components loaded, in order
  var refreshTimer = null;
  var mqttState = null; // null unknown, true, false

  function $(id) {
    return document.getElementById(id);
  }

  function t(key) {
    return TEXT[lang][key] || TEXT.en[key] || key;
  }

  function pickLanguage() {
    var saved;
    try {
      saved = localStorage.getItem(LANG_KEY);
    } catch {
      saved = null;
    }
    if (saved === 'en' || saved === 'zh') return saved;
    return /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
  }

  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    var nodes = document.querySelectorAll('[data-t]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute('data-t'));
    $('lang').textContent = t('switchTo');
    renderSteps();
    renderStatus();
    renderProblem();
  }

  // ---- storage ----

  function load(key) {
    try {
      return JSON.parse(localStorage.getItem(key) || 'null');
    } catch {
      return null;
    }
  }

  function save(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // private mode or full storage: the page still works for this visit
    }
  }

  function mediaSettings() {
    var s = load(SETTINGS_KEY) || {};
    return {
      autoUploadPhoto: s.autoUploadPhoto !== false,
      autoUploadPhotoType: s.autoUploadPhotoType === 0 ? 0 : 1,
      autoUploadVideo: s.autoUploadVideo !== false,
      downloadOwner: s.downloadOwner === 1 ? 1 : 0,
    };
  }

  // ---- screens ----

  function show(name) {
    screen = name;
    $('screen-login').hidden = name !== 'login';
    $('screen-home').hidden = name !== 'home';
    $('screen-settings').hidden = name !== 'settings';
  }

  var problem = null; // {title, text} keys and extra text

  function setProblem(titleKey, textKey, extra) {
    problem = titleKey ? { title: titleKey, text: textKey, extra: extra || '' } : null;
    renderProblem();
  }

  function renderProblem() {
    $('problem').hidden = !problem;
    if (!problem) return;
    $('problem-title').textContent = t(problem.title);
    $('problem-text').textContent = t(problem.text) + problem.extra;
  }

  // ---- steps ----

  var steps = []; // {key, ok, message}

  function step(key, ok, message) {
    steps.push({ key: key, ok: ok, message: message || '' });
    renderSteps();
    return ok;
  }

  function renderSteps() {
    $('steps-card').hidden = steps.length === 0;
    var list = $('steps');
    list.textContent = '';
    steps.forEach(function (s) {
      var li = document.createElement('li');
      li.className = s.ok ? 'ok' : 'failed';
      li.setAttribute('data-step', s.key);
      var mark = document.createElement('span');
      mark.className = 'mark';
      mark.textContent = s.ok ? t('ok') : t('failed');
      var body = document.createElement('div');
      var label = document.createElement('div');
      label.textContent = t(s.key);
      body.appendChild(label);
      if (s.message && !(s.ok && /^success$/i.test(s.message))) {
        var detail = document.createElement('div');
        detail.className = 'detail';
        detail.textContent = s.message;
        body.appendChild(detail);
      }
      li.appendChild(mark);
      li.appendChild(body);
      list.appendChild(li);
    });
  }

  function renderStatus() {
    var server = $('status-server');
    var mqtt = $('status-mqtt');
    if (!session) return;
    var apiLoaded = loaded.indexOf('api') >= 0;
    server.textContent = bridge ? (apiLoaded ? t('connected') : t('notConnected')) : t('loggedIn');
    server.className = 'state' + (bridge ? (apiLoaded ? ' ok' : ' bad') : ' ok');
    if (!bridge) {
      mqtt.textContent = t('notInPilot');
      mqtt.className = 'state';
    } else if (mqttState === null) {
      mqtt.textContent = loaded.indexOf('thing') >= 0 ? t('connecting') : t('notConnected');
      mqtt.className = 'state';
    } else {
      mqtt.textContent = mqttState ? t('connected') : t('notConnected');
      mqtt.className = 'state ' + (mqttState ? 'ok' : 'bad');
    }
    mqtt.setAttribute('data-connected', String(mqttState));
    $('info-user').textContent = session.username || '—';
    $('info-workspace').textContent = setup ? setup.workspace_name : '—';
    $('info-mqtt').textContent = setup ? setup.mqtt_host : session.mqtt_addr || '—';
  }

  // ---- the bridge ----

  /** Calls window.djiBridge[name](...args) and parses its JSON answer: {ok, code, message, data}. */
  function call(name) {
    var args = Array.prototype.slice.call(arguments, 1);
    try {
      if (typeof bridge[name] !== 'function') {
        return { ok: false, code: -1, message: name + ' is not available in this Pilot 2', data: null };
      }
      var raw = bridge[name].apply(bridge, args);
      var answer = typeof raw === 'string' ? JSON.parse(raw) : raw;
      if (!answer || typeof answer !== 'object') return { ok: false, code: -1, message: t('noAnswer') };
      var code = Number(answer.code);
      return { ok: code === 0, code: code, message: String(answer.message || ''), data: answer.data };
    } catch (error) {
      return { ok: false, code: -1, message: String((error && error.message) || error), data: null };
    }
  }

  function loadComponent(name, params) {
    var result = call('platformLoadComponent', name, JSON.stringify(params));
    if (result.ok && loaded.indexOf(name) < 0) loaded.push(name);
    return result;
  }

  function unloadComponent(name) {
    var result = call('platformUnloadComponent', name);
    loaded = loaded.filter(function (n) {
      return n !== name;
    });
    return result;
  }

  function apiParams() {
    return { host: setup.api_host, token: session.access_token };
  }

  function mediaParams() {
    var s = mediaSettings();
    return {
      autoUploadPhoto: s.autoUploadPhoto,
      autoUploadPhotoType: s.autoUploadPhotoType,
      autoUploadVideo: s.autoUploadVideo,
    };
  }

  window.skyvaultThingConnected = function (connected) {
    mqttState = connected === true || connected === 'true';
    renderStatus();
  };

  window.skyvaultWsConnected = function () {
    // live updates are not shown on this page; the callback only has to exist
  };

  /** docs/protocol.md §8, in order; stops at the first step that leaves Pilot 2 unable to go on. */
  function connectPilot() {
    steps = [];
    setProblem(null);
    if (!setup.app_id || !setup.app_key || !setup.app_license) {
      setProblem('licenceMissingTitle', 'licenceMissingText');
      return;
    }
    var verify = call('platformVerifyLicense', setup.app_id, setup.app_key, setup.app_license);
    if (!step('stepVerify', verify.ok, verify.message)) {
      setProblem('licenceRefusedTitle', 'licenceRefusedText', verify.message);
      return;
    }
    var verified = call('platformIsVerified');
    var isVerified = verified.ok && verified.data !== false;
    if (!step('stepIsVerified', isVerified, verified.message)) {
      setProblem('licenceRefusedTitle', 'licenceRefusedText', verified.message);
      return;
    }
    var required = [
      ['stepWorkspace', 'platformSetWorkspaceId', session.workspace_id],
      [
        'stepInformation',
        'platformSetInformation',
        setup.platform_name,
        setup.workspace_name,
        setup.workspace_desc,
      ],
    ];
    for (var i = 0; i < required.length; i++) {
      var r = call.apply(null, required[i].slice(1));
      if (!step(required[i][0], r.ok, r.message)) return stopped();
    }
    var api = loadComponent('api', apiParams());
    renderStatus();
    if (!step('stepApi', api.ok, api.message)) return stopped();

    var mqttHost = setup.mqtt_host || session.mqtt_addr || '';
    if (!/^(tcp|ws):\/\//i.test(mqttHost)) {
      step('stepThing', false, mqttHost);
      setProblem('tlsTitle', 'tlsText', mqttHost);
      return;
    }
    var thing = loadComponent('thing', {
      host: mqttHost,
      username: session.mqtt_username,
      password: session.mqtt_password,
      connectCallback: 'skyvaultThingConnected',
    });
    renderStatus();
    if (!step('stepThing', thing.ok, thing.message)) return stopped();

    var ws = loadComponent('ws', {
      host: setup.ws_host,
      token: session.access_token,
      connectCallback: 'skyvaultWsConnected',
    });
    step('stepWs', ws.ok, ws.message); // optional: media does not need it

    loadMedia();
  }

  function loadMedia() {
    var media = loadComponent('media', mediaParams());
    if (!step('stepMedia', media.ok, media.message)) return stopped();
    var owner = call('mediaSetDownloadOwner', mediaSettings().downloadOwner);
    step('stepOwner', owner.ok, owner.message);
  }

  function stopped() {
    setProblem('stepFailedTitle', 'stepFailedText');
  }

  // ---- HTTP ----

  function request(method, path, body, token) {
    var headers = { 'content-type': 'application/json' };
    if (token) headers['x-auth-token'] = token;
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return { code: response.status, message: response.statusText };
        })
        .then(function (json) {
          return { status: response.status, body: json };
        });
    });
  }

  function login(username, password) {
    return request('POST', '/manage/api/v1/login', { username: username, password: password, flag: 2 });
  }

  function startSession(data) {
    session = data;
    save(SESSION_KEY, data);
    scheduleRefresh();
    return request('GET', '/api/v1/pilot/setup', undefined, data.access_token).then(
      function (answer) {
        if (answer.status === 401) return toLogin();
        if (answer.body.code !== 0) {
          show('home');
          setProblem('stepFailedTitle', 'setupFailed', answer.body.message || String(answer.status));
          renderStatus();
          return;
        }
        setup = answer.body.data;
        show('home');
        renderStatus();
        if (bridge) connectPilot();
        renderStatus();
      },
      function () {
        show('home');
        setProblem('stepFailedTitle', 'networkError');
        renderStatus();
      },
    );
  }

  function toLogin() {
    session = null;
    setup = null;
    save(SESSION_KEY, null);
    if (refreshTimer) clearTimeout(refreshTimer);
    show('login');
  }

  function scheduleRefresh() {
    if (refreshTimer) clearTimeout(refreshTimer);
    if (!session || !session.expires_at) return;
    var inMs = (session.expires_at - REFRESH_MARGIN_S) * 1000 - Date.now();
    // setTimeout holds at most ~24.8 days
    refreshTimer = setTimeout(refreshToken, Math.min(Math.max(inMs, 1000), 2147000000));
  }

  /** The token is about to expire: a new one, handed to Pilot 2, with api and media reloaded (§8). */
  function refreshToken() {
    if (!session) return Promise.resolve(false);
    return request('POST', '/manage/api/v1/token/refresh', undefined, session.access_token).then(
      function (answer) {
        if (answer.body.code !== 0 || !answer.body.data) {
          toLogin();
          return false;
        }
        session = answer.body.data;
        save(SESSION_KEY, session);
        scheduleRefresh();
        if (bridge && setup && loaded.indexOf('api') >= 0) {
          var hadMedia = loaded.indexOf('media') >= 0;
          var set = call('apiSetToken', session.access_token);
          if (hadMedia) unloadComponent('media');
          var api = loadComponent('api', apiParams());
          step('stepRefresh', set.ok && api.ok, set.ok ? api.message : set.message);
          if (hadMedia) loadMedia();
        }
        return true;
      },
      function () {
        scheduleRefresh(); // offline: try again later
        return false;
      },
    );
  }

  function resume() {
    var stored = load(SESSION_KEY);
    if (!stored || !stored.access_token) return show('login');
    session = stored;
    var now = Date.now() / 1000;
    if (!stored.expires_at || stored.expires_at - REFRESH_MARGIN_S > now) return startSession(stored);
    return request('POST', '/manage/api/v1/token/refresh', undefined, stored.access_token).then(
      function (answer) {
        if (answer.body.code !== 0 || !answer.body.data) return toLogin();
        return startSession(answer.body.data);
      },
      function () {
        toLogin();
      },
    );
  }

  function logout() {
    // Ends the session on the server too, so the token stops working (docs/accounts.md); the page logs
    // out locally whatever the answer.
    if (session && session.access_token) {
      request('POST', '/api/v1/session/logout', undefined, session.access_token).catch(function () {});
    }
    if (bridge) {
      if (loaded.indexOf('thing') >= 0) call('thingDisconnect');
      loaded
        .slice()
        .reverse()
        .forEach(function (name) {
          unloadComponent(name);
        });
    }
    toLogin();
    steps = [];
    mqttState = null;
    setProblem(null);
    renderSteps();
    if (bridge) call('platformStopSelf');
  }

  // ---- settings ----

  function renderSettings() {
    var s = mediaSettings();
    $('set-photo').checked = s.autoUploadPhoto;
    $('set-photo-type').value = String(s.autoUploadPhotoType);
    $('set-video').checked = s.autoUploadVideo;
    $('set-owner').value = String(s.downloadOwner);
  }

  function changeSetting(field, value, bridgeCall) {
    var s = mediaSettings();
    s[field] = value;
    save(SETTINGS_KEY, s);
    var out = $('settings-result');
    if (!bridge || loaded.indexOf('media') < 0) {
      out.textContent = t('saved');
      return;
    }
    var result = call(bridgeCall, value);
    out.textContent = result.ok ? t('saved') : t('notSaved') + result.message;
  }

  // ---- wiring ----

  $('lang').addEventListener('click', function () {
    lang = lang === 'zh' ? 'en' : 'zh';
    save(LANG_KEY, lang);
    applyLanguage();
  });

  $('login-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var button = $('login-button');
    var error = $('login-error');
    error.textContent = '';
    button.disabled = true;
    button.textContent = t('loggingIn');
    login($('username').value.trim(), $('password').value)
      .then(
        function (answer) {
          if (answer.body.code !== 0) {
            error.textContent = t('loginFailed') + (answer.body.message || answer.status);
            return;
          }
          $('password').value = '';
          return startSession(answer.body.data);
        },
        function () {
          error.textContent = t('networkError');
        },
      )
      .then(function () {
        button.disabled = false;
        button.textContent = t('login');
      });
  });

  $('logout').addEventListener('click', logout);
  $('open-settings').addEventListener('click', function () {
    renderSettings();
    $('settings-result').textContent = '';
    show('settings');
  });
  $('close-settings').addEventListener('click', function () {
    show('home');
  });
  $('set-photo').addEventListener('change', function (e) {
    changeSetting('autoUploadPhoto', e.target.checked, 'mediaSetAutoUploadPhoto');
  });
  $('set-photo-type').addEventListener('change', function (e) {
    changeSetting('autoUploadPhotoType', Number(e.target.value), 'mediaSetUploadPhotoType');
  });
  $('set-video').addEventListener('change', function (e) {
    changeSetting('autoUploadVideo', e.target.checked, 'mediaSetAutoUploadVideo');
  });
  $('set-owner').addEventListener('change', function (e) {
    changeSetting('downloadOwner', Number(e.target.value), 'mediaSetDownloadOwner');
  });

  if (bridge) {
    // Pilot's back key: leave the settings for the home screen (stay, true); elsewhere let Pilot go back.
    bridge.onBackClick = function () {
      if (screen === 'settings') {
        show('home');
        return true;
      }
      return false;
    };
  } else {
    $('no-bridge').hidden = false;
  }

  // for tests and troubleshooting
  window.skyvaultPilot = {
    refreshToken: refreshToken,
    loaded: function () {
      return loaded.slice();
    },
  };

  applyLanguage();
  resume();
})();
