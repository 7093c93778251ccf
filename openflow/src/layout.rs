//! Fixed wire layouts declared once: [`wire_struct!`] turns one declaration (documented
//! fields in wire order, pads between them) into the public struct and its [`Wire`] impl.
//!
//! Contract: fields are read and written in the order declared, big-endian, with
//! `pad N,` zero bytes between them (skipped on parse, written as zeros on emit). How a
//! field type is carried is its [`Field`] impl: integers and arrays of them as they are,
//! [`Match`] as an `ofp_match`, `Vec<u8>` as the raw bytes to the end of the structure,
//! `Vec<T: Wire>` as a list of `T` to the end; `name: T as C,` uses the codec `C`
//! ([`FieldAs`], e.g. [`NulPadded`]) instead; `{ a: A, b: B } as C,` carries several
//! fields with one codec (one wire item that fills two fields). A layout headed `(what, len16 >= MIN)`
//! starts with its own u16 length (the whole entry, at least `MIN`, a multiple of 8),
//! is parsed inside a reader of exactly that length and has the length patched in after
//! emitting. Every error names the structure (`what`).
//!
//! [`Wire`]: crate::codec::Wire
//! [`Match`]: crate::oxm::Match

use crate::codec::{fixed_bytes, parse_list, Reader, Result, Wire, Writer};
use crate::oxm::Match;

/// How a value of a fixed-layout field is read and written.
pub(crate) trait Field: Sized {
    /// Reads the field (`what` names the enclosing structure in errors).
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self>;
    /// Appends the field.
    fn put(&self, w: &mut Writer);
}

/// A codec for a field of type `T` other than `T`'s own [`Field`] impl.
pub(crate) trait FieldAs<T> {
    /// Reads the field.
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<T>;
    /// Appends the field (`what` names the enclosing structure if a length overflows).
    fn put(v: &T, w: &mut Writer, what: &'static str);
}

macro_rules! int_fields {
    ($($t:ty: $get:ident $put:ident),*) => {$(
        impl Field for $t {
            fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self> {
                r.$get(what)
            }
            fn put(&self, w: &mut Writer) {
                w.$put(*self);
            }
        }
    )*};
}
int_fields!(u8: u8 put_u8, u16: u16 put_u16, u32: u32 put_u32, u64: u64 put_u64);

impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self> {
        let mut a = [T::default(); N];
        for x in &mut a {
            *x = T::get(r, what)?;
        }
        Ok(a)
    }
    fn put(&self, w: &mut Writer) {
        for x in self {
            x.put(w);
        }
    }
}

/// The raw bytes to the end of the structure.
impl Field for Vec<u8> {
    fn get(r: &mut Reader<'_>, _what: &'static str) -> Result<Self> {
        Ok(r.rest().to_vec())
    }
    fn put(&self, w: &mut Writer) {
        w.put_bytes(self);
    }
}

/// A list of entries to the end of the structure.
impl<T: Wire> Field for Vec<T> {
    fn get(r: &mut Reader<'_>, _what: &'static str) -> Result<Self> {
        parse_list(r)
    }
    fn put(&self, w: &mut Writer) {
        crate::codec::emit_list(self, w);
    }
}

/// (packets, bytes) counter pairs to the end of the structure.
impl Field for Vec<(u64, u64)> {
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push((r.u64(what)?, r.u64(what)?));
        }
        Ok(v)
    }
    fn put(&self, w: &mut Writer) {
        for (p, b) in self {
            w.put_u64(*p);
            w.put_u64(*b);
        }
    }
}

impl Field for Match {
    fn get(r: &mut Reader<'_>, _what: &'static str) -> Result<Self> {
        Match::parse(r)
    }
    fn put(&self, w: &mut Writer) {
        self.emit(w);
    }
}

/// A fixed `N`-byte NUL-padded text field, kept as the bytes before the padding
/// (truncated to `N` on the way out).
pub(crate) struct NulPadded<const N: usize>;

impl<const N: usize> FieldAs<Vec<u8>> for NulPadded<N> {
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u8>> {
        fixed_bytes(r, N, what)
    }
    fn put(v: &Vec<u8>, w: &mut Writer, _what: &'static str) {
        w.put_fixed(v, N);
    }
}

/// A list of entries headed by its u16 byte length and `PAD` zero bytes (the length is
/// patched in after the list is written).
pub(crate) struct LenPrefixed<const PAD: usize>;

impl<T: Wire, const PAD: usize> FieldAs<Vec<T>> for LenPrefixed<PAD> {
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<T>> {
        let len = usize::from(r.u16(what)?);
        r.skip(PAD, what)?;
        parse_list(&mut r.sub(len, what)?)
    }
    fn put(v: &Vec<T>, w: &mut Writer, what: &'static str) {
        let at = w.len();
        w.put_u16(0);
        w.put_zeros(PAD);
        let start = w.len();
        crate::codec::emit_list(v, w);
        w.patch_len16(at, w.len() - start, what);
    }
}

/// Declares a public struct with documented public fields in wire order and its
/// [`Wire`] impl (see the module docs for the item syntax).
macro_rules! wire_struct {
    // `pad N,`: N zero bytes.
    (@munch $hdr:tt [$($fields:tt)*] [$($items:tt)*] pad $n:literal, $($rest:tt)*) => {
        $crate::layout::wire_struct!(@munch $hdr [$($fields)*] [$($items)* (pad $n)] $($rest)*);
    };
    // `{ a: A, b: B } as Codec,`: fields carried together by one codec, which has
    // `get(r, what) -> Result<(A, B)>` and `put((&a, &b), w, what)`.
    (@munch $hdr:tt [$($fields:tt)*] [$($items:tt)*]
        { $($(#[$gm:meta])* $g:ident : $gt:ty),+ $(,)? } as $c:ty, $($rest:tt)*) => {
        $crate::layout::wire_struct!(@munch $hdr
            [$($fields)* $({$(#[$gm])* $g: $gt})+] [$($items)* (group [$($g)+] $c)] $($rest)*);
    };
    // `name: Type [as Codec],`: a field.
    (@munch $hdr:tt [$($fields:tt)*] [$($items:tt)*]
        $(#[$fm:meta])* $f:ident : $t:ty $(as $c:ty)?, $($rest:tt)*) => {
        $crate::layout::wire_struct!(@munch $hdr
            [$($fields)* {$(#[$fm])* $f: $t}] [$($items)* (field $f $t $(, $c)?)] $($rest)*);
    };
    (@munch {$(#[$sm:meta])* $name:ident $what:literal [$($min:literal)?]}
        [$({$(#[$fm:meta])* $f:ident: $t:ty})*] [$($item:tt)*]) => {
        $(#[$sm])*
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $crate::codec::Wire for $name {
            fn parse(r: &mut $crate::codec::Reader<'_>) -> $crate::codec::Result<Self> {
                $crate::layout::wire_struct!(@open r $what $($min)?);
                $($crate::layout::wire_struct!(@get r $what $item);)*
                Ok($name { $($f,)* })
            }

            fn emit(&self, w: &mut $crate::codec::Writer) {
                let $name { $($f,)* } = self;
                $crate::layout::wire_struct!(@start w start $($min)?);
                $($crate::layout::wire_struct!(@put w $what $item);)*
                $crate::layout::wire_struct!(@end w start $what $($min)?);
            }
        }
    };
    (@open $r:ident $what:literal) => {};
    (@open $r:ident $what:literal $min:literal) => {
        let mut entry = $r.sub_tlv(0, $min, $what)?;
        let $r = &mut entry;
        $r.skip(2, $what)?;
    };
    (@start $w:ident $start:ident) => {};
    (@start $w:ident $start:ident $min:literal) => {
        let $start = $w.len();
        $w.put_u16(0);
    };
    (@end $w:ident $start:ident $what:literal) => {};
    (@end $w:ident $start:ident $what:literal $min:literal) => {
        $w.patch_len16($start, $w.len() - $start, $what);
    };
    (@get $r:ident $what:literal (pad $n:literal)) => {
        $r.skip($n, $what)?;
    };
    (@get $r:ident $what:literal (field $f:ident $t:ty)) => {
        let $f = <$t as $crate::layout::Field>::get($r, $what)?;
    };
    (@get $r:ident $what:literal (field $f:ident $t:ty, $c:ty)) => {
        let $f = <$c as $crate::layout::FieldAs<$t>>::get($r, $what)?;
    };
    (@get $r:ident $what:literal (group [$($g:ident)+] $c:ty)) => {
        let ($($g,)+) = <$c>::get($r, $what)?;
    };
    (@put $w:ident $what:literal (group [$($g:ident)+] $c:ty)) => {
        <$c>::put(($($g,)+), $w, $what);
    };
    (@put $w:ident $what:literal (pad $n:literal)) => {
        $w.put_zeros($n);
    };
    (@put $w:ident $what:literal (field $f:ident $t:ty)) => {
        $crate::layout::Field::put($f, $w);
    };
    (@put $w:ident $what:literal (field $f:ident $t:ty, $c:ty)) => {
        <$c as $crate::layout::FieldAs<$t>>::put($f, $w, $what);
    };
    (
        $(#[$sm:meta])*
        pub struct $name:ident($what:literal $(, len16 >= $min:literal)?) {
            $($body:tt)*
        }
    ) => {
        $crate::layout::wire_struct!(@munch {$(#[$sm])* $name $what [$($min)?]} [] [] $($body)*);
    };
}
pub(crate) use wire_struct;
