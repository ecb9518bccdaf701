/* SPDX-License-Identifier: Apache-2.0 */
/* Where the CLI's certificates come from: flags, environment, or a config file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "line_reader.h"

/* Sets dst from a config value, relative paths taken from the config file's directory. */
static int set_path(char *dst, const char *value, const char *config_path)
{
	const char *slash = strrchr(config_path, '/');
	int n;

	if (value[0] == '/' || !slash)
		n = snprintf(dst, PATH_MAX, "%s", value);
	else
		n = snprintf(dst, PATH_MAX, "%.*s/%s", (int)(slash - config_path), config_path, value);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

#define CONFIG_MAX_FILE (1u << 20)

/* "group NAME = host1,host2:port" */
static int config_group_line(struct cli_config *cfg, const char *name, const char *hosts)
{
	struct cli_group *g;

	if (!*name || strlen(name) >= sizeof(g->name) || strpbrk(name, " \t@,") || strlen(hosts) >= sizeof(g->hosts) ||
	    cfg->ngroups == CONFIG_MAX_GROUPS)
		return -EINVAL;
	g = &cfg->groups[cfg->ngroups++];
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->hosts, sizeof(g->hosts), "%s", hosts);
	return 0;
}

/* One "key = value" line of the file r reads. */
static int config_line(struct cli_config *cfg, const struct line_reader *r, char *line, char *err, size_t errlen)
{
	char *key, *value, *dst, *end;
	unsigned long port;

	if (line_split_key_value(line, &key, &value)) {
		line_reader_error(r, err, errlen, "expected 'key = value'");
		return -EINVAL;
	}
	if (strcmp(key, "port") == 0) {
		port = strtoul(value, &end, 10);
		if (*end || port == 0 || port > 65535) {
			line_reader_error(r, err, errlen, "port '%s' is not 1..65535", value);
			return -EINVAL;
		}
		cfg->port = (uint16_t)port;
		return 0;
	}
	if (strncmp(key, "group", 5) == 0 && (key[5] == ' ' || key[5] == '\t')) {
		if (config_group_line(cfg, key + 5 + strspn(key + 5, " \t"), value)) {
			line_reader_error(r, err, errlen, "bad group (write 'group NAME = host1,host2:port')");
			return -EINVAL;
		}
		return 0;
	}
	dst = strcmp(key, "ca") == 0	   ? cfg->ca
	      : strcmp(key, "cert") == 0 ? cfg->cert
	      : strcmp(key, "key") == 0  ? cfg->key
					   : NULL;
	if (!dst) {
		line_reader_error(r, err, errlen, "unknown setting '%s' (known: ca, cert, key, port, group NAME)", key);
		return -EINVAL;
	}
	if (!*value) {
		line_reader_error(r, err, errlen, "'%s' has no value", key);
		return -EINVAL;
	}
	/* flags and environment were applied first and win */
	if (!*dst && set_path(dst, value, r->name)) {
		line_reader_error(r, err, errlen, "path too long");
		return -EINVAL;
	}
	return 0;
}

static int read_config(struct cli_config *cfg, const char *path, bool required, char *err, size_t errlen)
{
	char buf[PATH_MAX + 64], *text, *line;
	struct line_reader r;
	size_t len;
	int ret = line_file_read(path, CONFIG_MAX_FILE, &text, &len);

	/* the default file is optional: absent, or not ours to read (sudo, setpriv) */
	if (!required && (ret == -ENOENT || ret == -EACCES || ret == -ENOTDIR))
		return 0;
	if (ret) {
		snprintf(err, errlen, "cannot read config file '%s': %s", path,
			 ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
		return -EINVAL;
	}
	line_reader_init(&r, path, text, len, buf, sizeof(buf));
	/* values are paths, which may hold a '#' */
	r.comment_lines_only = true;
	while ((ret = line_reader_next(&r, &line, err, errlen)) > 0) {
		ret = config_line(cfg, &r, line, err, errlen);
		if (ret)
			break;
	}
	free(text);
	return ret;
}

static void take(char *dst, const char *flag, const char *env_name)
{
	const char *env = getenv(env_name);

	if (flag && *flag)
		snprintf(dst, PATH_MAX, "%s", flag);
	else if (env && *env)
		snprintf(dst, PATH_MAX, "%s", env);
}

const char *config_group(const struct cli_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ngroups; i++)
		if (strcmp(cfg->groups[i].name, name) == 0)
			return cfg->groups[i].hosts;
	return NULL;
}

int config_resolve(struct cli_config *cfg, const char *flag_ca, const char *flag_cert, const char *flag_key,
		   const char *config_path, bool need_certs, char *err, size_t errlen)
{
	char default_path[PATH_MAX];
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	bool required = true;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	take(cfg->ca, flag_ca, "TRACECTL_CA");
	take(cfg->cert, flag_cert, "TRACECTL_CERT");
	take(cfg->key, flag_key, "TRACECTL_KEY");
	if (!config_path)
		config_path = getenv("TRACECTL_CONFIG");
	if (!config_path && (xdg || home)) {
		if (xdg && *xdg)
			snprintf(default_path, sizeof(default_path), "%s/tracectl/config", xdg);
		else
			snprintf(default_path, sizeof(default_path), "%s/.config/tracectl/config", home);
		config_path = default_path;
		required = false;
	}
	if (config_path) {
		ret = read_config(cfg, config_path, required, err, errlen);
		if (ret)
			return ret;
	}
	if (need_certs && (!*cfg->ca || !*cfg->cert || !*cfg->key)) {
		const char *missing = !*cfg->ca ? "ca" : !*cfg->cert ? "cert" : "key";

		snprintf(err, errlen,
			 "no %s given: pass --%s, set TRACECTL_%s, or add '%s = PATH' to ~/.config/tracectl/config",
			 strcmp(missing, "ca") == 0 ? "CA certificate" : strcmp(missing, "cert") == 0
									 ? "client certificate"
									 : "client key",
			 missing, strcmp(missing, "ca") == 0 ? "CA" : strcmp(missing, "cert") == 0 ? "CERT" : "KEY",
			 missing);
		return -EINVAL;
	}
	return 0;
}
