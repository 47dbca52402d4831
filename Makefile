# PGXS build of the elicense extension (the .so and its SQL scripts).
# The core is compiled into the module from core/src; CMakeLists.txt builds
# the same core for the worker and the unit tests.

EXTENSION_NAME = elicense
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" extension/elicense.control)

MODULE_big = elicense
CORE_SOURCES := $(wildcard core/src/*.cpp)
GLUE_SOURCES := $(wildcard extension/src/*.cpp)
OBJS = $(CORE_SOURCES:.cpp=.o) $(GLUE_SOURCES:.cpp=.o)

# Scripts go to share/extension. The install script is joined from
# extension/sql/parts/*.sql (one subject each) at build time; released
# upgrade scripts are kept as files.
MODULEDIR = extension
DATA = extension/elicense.control $(wildcard extension/sql/elicense--*--*.sql)
DATA_built = extension/sql/elicense--$(EXTVERSION).sql
EXTRA_CLEAN = $(DATA_built)

REGRESS = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --outputdir=build/regress

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -Icore/include -Icore/src -Iextension/src
PG_CXXFLAGS = -std=c++17 -fvisibility=hidden -fvisibility-inlines-hidden -Wextra -Werror -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-register
SHLIB_LINK = -lstdc++ -lcrypto -lqrencode -lpng -lzip -lz -lpugixml

# Rebuild objects when a header changes.
PG_CXXFLAGS += -MMD -MP
EXTRA_CLEAN += $(OBJS:.o=.d)

# No LLVM bitcode for JIT inlining: it would compile the C++ with clang and
# PostgreSQL's C flags, and none of our functions are worth inlining into JIT code.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

MAJORVERSION_NUM := $(firstword $(subst ., ,$(MAJORVERSION)))
ifneq ($(MAJORVERSION_NUM),15)
$(error elicense supports PostgreSQL 15; pg_config reports $(MAJORVERSION))
endif

SQL_PARTS := $(sort $(wildcard extension/sql/parts/*.sql))
extension/sql/elicense--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

-include $(OBJS:.o=.d)

installcheck: | build/regress
build/regress:
	mkdir -p $@

.PHONY: unit
unit:
	cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build/cmake -j2
	cd build/cmake && ctest --output-on-failure
