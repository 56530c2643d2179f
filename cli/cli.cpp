#include "cli/cli.hpp"

#include <charconv>

#include <fmt/core.h>

#include "core/keys.hpp"

namespace hallmark {

// -- exit codes ---------------------------------------------------------------

int report(const caf::error& err) {
  auto code = code_of(err);
  if (code == ec::not_running) {
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
    return exit_not_running;
  }
  if (code == ec::none)
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
  else
    fmt::print(stderr, "hallmark: {} ({})\n", message_of(err), to_string(code));
  return exit_failed;
}

int usage(const std::string& message) {
  fmt::print(stderr, "hallmark: {}\n", message);
  return exit_usage;
}

// -- the commands -------------------------------------------------------------

void command_table::add(CLI::App* app, std::function<int()> run) {
  commands_.push_back({app, std::move(run)});
}

int command_table::run_parsed() const {
  auto depth = [](const CLI::App* app) {
    size_t d = 0;
    for (; app != nullptr; app = app->get_parent())
      ++d;
    return d;
  };
  const command* chosen = nullptr;
  for (auto& c : commands_)
    if (c.app->parsed()
        && (chosen == nullptr || depth(c.app) > depth(chosen->app)))
      chosen = &c;
  if (chosen == nullptr)
    return usage("no command given (see `hallmark --help`)");
  return chosen->run();
}

CLI::App* add_parent(CLI::App& app, const std::string& name,
                     const std::string& help) {
  auto parent = app.add_subcommand(name, help);
  parent->require_subcommand(1);
  return parent;
}

// -- common options -----------------------------------------------------------

CLI::Option* add_datadir(CLI::App* app, std::string& datadir, bool required) {
  auto opt = app->add_option("--datadir", datadir, "The node's data directory")
               ->envname("HALLMARK_DATADIR");
  if (required)
    opt->required();
  return opt;
}

CLI::Option* add_json(CLI::App* app, bool& json) {
  return app->add_flag("--json", json,
                       "Print one JSON object instead of a listing");
}

void add_client_options(CLI::App* app, client_options& options) {
  add_datadir(app, options.datadir);
  add_json(app, options.json);
}

void add_key(CLI::App* app, std::string& key_file) {
  app
    ->add_option("--key", key_file,
                 "Key file that signs (default: DATADIR/identity.key)")
    ->check(CLI::ExistingFile);
}

caf::expected<key_pair> signing_key(const std::string& key_file,
                                    const std::string& datadir) {
  if (!key_file.empty())
    return load_key(key_file);
  node_config where;
  where.datadir = datadir;
  return load_key(where.key_path());
}

void config_flags::add_to(CLI::App* app, const std::string& group) {
  for (auto& key : config_keys()) {
    auto& f = flags_.emplace_back(flag{&key});
    if (key.is_boolean()) {
      auto names = key.flag() + ",!--no-" + key.flag().substr(2);
      f.option = app->add_flag(names, f.on, key.help);
    } else {
      // The value is read and checked as the file's line would be.
      CLI::Validator as_in_file{[&key](std::string& text) -> std::string {
                                  node_config scratch;
                                  auto err = key.read(text, scratch);
                                  if (!err)
                                    err = key.check(scratch);
                                  return err ? message_of(err) : "";
                                },
                                "", key.name};
      // A list key repeats; another key given twice takes the last value,
      // as a later line of the file does.
      f.option = key.is_list()
                   ? app->add_option(key.flag(), f.values, key.help)
                   : app->add_option(key.flag(), f.value, key.help)
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      f.option->type_name(key.accepted())->check(as_in_file);
    }
    f.option->group(group);
  }
}

caf::error config_flags::apply(node_config& cfg) const {
  for (auto& f : flags_) {
    if (f.option->count() == 0)
      continue;
    std::vector<std::string> given{f.value};
    if (f.key->is_boolean())
      given = {f.on ? "true" : "false"};
    else if (f.key->is_list())
      given = f.values;
    for (auto& value : given)
      if (auto err = f.key->read(value, cfg))
        return err;
  }
  return cfg.validate();
}

// -- argument values ----------------------------------------------------------

namespace {

std::string check_hex32(std::string& text) {
  if (from_hex_fixed<32>(text))
    return {};
  return "expected 64 hex characters (32 bytes), got '" + text + "'";
}

std::string check_key_value(std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return "expected key=value, got '" + text + "'";
  return {};
}

} // namespace

const CLI::Validator hex32{check_hex32, "HEX32", "HEX32"};

const CLI::Validator key_value{check_key_value, "KEY=VALUE", "KEY=VALUE"};

CLI::Validator whole_number(uint64_t min, uint64_t max,
                            const std::string& what) {
  auto check = [=](std::string& text) -> std::string {
    uint64_t x = 0;
    auto end = text.data() + text.size();
    auto [used, fault] = std::from_chars(text.data(), end, x);
    bool digits = !text.empty()
                  && text.find_first_not_of("0123456789") == std::string::npos;
    if (digits && used == end && fault == std::errc{} && x >= min && x <= max)
      return {};
    return "expected a whole number" + (what.empty() ? "" : " of " + what)
           + " within " + std::to_string(min) + ".." + std::to_string(max)
           + ", got '" + text + "'";
  };
  auto range = std::to_string(min) + ".." + std::to_string(max);
  return CLI::Validator{check, "UINT:" + range, "whole number " + range};
}

hash256 hex32_of(const std::string& text) {
  // Validated by `hex32` while parsing.
  return *from_hex_fixed<32>(text);
}

// -- asking a node ------------------------------------------------------------

int print_result(const json& j, bool as_json, human_printer human) {
  emit(j, as_json, human);
  return exit_ok;
}

int print_record_reply(const admin_reply& reply, bool as_json) {
  auto info = reply.root().getRecord();
  auto j = record_reply_json(info);
  if (!j)
    return report(j.error());
  bool state_only = info.getStateBase() > 0 && info.getRecord().size() == 0;
  return print_result(*j, as_json,
                      state_only ? print_state_record : print_record);
}

} // namespace hallmark
