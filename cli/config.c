/* SPDX-License-Identifier: Apache-2.0 */
/* Where the CLI's certificates come from: flags, environment, or a config file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

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

static int read_config(struct cli_config *cfg, const char *path, bool required, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[PATH_MAX + 64];
	int lineno = 0, ret = 0;

	if (!f) {
		/* the default file is optional: absent, or not ours to read (sudo, setpriv) */
		if (!required && (errno == ENOENT || errno == EACCES || errno == ENOTDIR))
			return 0;
		snprintf(err, errlen, "cannot read config file '%s': %s", path, strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *key, *value, *eq;
		char *dst;

		lineno++;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		if (strcmp(key, "port") == 0) {
			char *end;
			unsigned long port = strtoul(value, &end, 10);

			if (*end || port == 0 || port > 65535) {
				snprintf(err, errlen, "%s:%d: port '%s' is not 1..65535", path, lineno, value);
				ret = -EINVAL;
				break;
			}
			cfg->port = (uint16_t)port;
			continue;
		}
		if (strncmp(key, "group", 5) == 0 && (key[5] == ' ' || key[5] == '\t')) {
			char *name = trim(key + 5);
			struct cli_group *g;

			if (!*name || strlen(name) >= sizeof(g->name) || strpbrk(name, " \t@,") ||
			    strlen(value) >= sizeof(g->hosts) || cfg->ngroups == CONFIG_MAX_GROUPS) {
				snprintf(err, errlen, "%s:%d: bad group (write 'group NAME = host1,host2:port')", path,
					 lineno);
				ret = -EINVAL;
				break;
			}
			g = &cfg->groups[cfg->ngroups++];
			snprintf(g->name, sizeof(g->name), "%s", name);
			snprintf(g->hosts, sizeof(g->hosts), "%s", value);
			continue;
		}
		dst = strcmp(key, "ca") == 0	   ? cfg->ca
		      : strcmp(key, "cert") == 0 ? cfg->cert
		      : strcmp(key, "key") == 0  ? cfg->key
						   : NULL;
		if (!dst) {
			snprintf(err, errlen, "%s:%d: unknown setting '%s' (known: ca, cert, key, port, group NAME)", path,
				 lineno, key);
			ret = -EINVAL;
			break;
		}
		if (!*value) {
			snprintf(err, errlen, "%s:%d: '%s' has no value", path, lineno, key);
			ret = -EINVAL;
			break;
		}
		/* flags and environment were applied first and win */
		if (!*dst && set_path(dst, value, path)) {
			snprintf(err, errlen, "%s:%d: path too long", path, lineno);
			ret = -EINVAL;
			break;
		}
	}
	fclose(f);
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
